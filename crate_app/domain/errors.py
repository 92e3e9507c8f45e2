"""Errors the core raises with messages meant for people."""


class CrateError(Exception):
    """Base class: the message is shown to the user as it is."""


class LibraryError(CrateError):
    """The library file cannot be opened or used."""


class DecodeError(CrateError):
    """An audio file cannot be decoded for analysis."""


class AnalysisTimeout(DecodeError):
    """A file's analysis overran its time limit and was stopped."""


class TemplateError(CrateError):
    """A rename template is invalid; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position + 1})")
        self.position = position


class AnalysisUnavailable(CrateError):
    """Analysis cannot run at all (its processes do not start, or keep dying): a batch stops."""


class ExchangeError(CrateError):
    """A file of another DJ program cannot be read or written (malformed, unsupported, not writable)."""


class RenameBusy(CrateError):
    """A rename batch is being run by another process (or another thread of this one)."""
