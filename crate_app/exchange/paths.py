"""Paths between machines: ``--map FROM=TO`` rules, Windows drives, macOS volumes, URIs, NFC/NFD.

A path is handled as a :class:`TargetPath` (POSIX or Windows, components without separators), so that
one mapping rule works whichever separator or letter case the other program wrote.  A path that the
target cannot hold (a name Windows forbids, bytes that are not UTF-8, a relative path) raises
:class:`Unexpressible` with the reason, and the export skips that track and reports it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

_DRIVE_RE = re.compile(r"^([A-Za-z]):(?:[\\/]|$)")
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*\x00-\x1f]')
_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
NORMALIZATIONS = ("NFC", "NFD", "")  # "" = leave names as they are


class Unexpressible(ValueError):
    """The path cannot be written in the target's notation (the message says why)."""


@dataclass(frozen=True, slots=True)
class TargetPath:
    """An absolute path, POSIX (``drive`` empty) or Windows (``drive`` like ``"C:"``)."""

    drive: str
    parts: tuple[str, ...]

    @property
    def is_windows(self) -> bool:
        return bool(self.drive)

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    def as_posix(self) -> str:
        """``/a/b.mp3`` or ``C:/a/b.mp3``: forward slashes, as the DJ formats write."""
        return f"{self.drive}/" + "/".join(self.parts)

    def as_native(self) -> str:
        """``/a/b.mp3`` or ``C:\\a\\b.mp3``."""
        return f"{self.drive}\\" + "\\".join(self.parts) if self.drive else "/" + "/".join(self.parts)

    def volume(self) -> tuple[str, tuple[str, ...]]:
        """(volume, parts below it): ``("C:", …)``, ``("DJUSB", …)`` for ``/Volumes/DJUSB/…``, or
        ``("", …)`` for the system drive of a POSIX machine."""
        if self.drive:
            return self.drive, self.parts
        if len(self.parts) >= 2 and self.parts[0] == "Volumes":
            return self.parts[1], self.parts[2:]
        return "", self.parts

    def normalized(self, form: str) -> TargetPath:
        if not form:
            return self
        return TargetPath(self.drive, tuple(unicodedata.normalize(form, p) for p in self.parts))  # type: ignore[arg-type]


def parse_path(path: str) -> TargetPath:
    """Split an absolute POSIX or Windows path (either separator for Windows); raises Unexpressible."""
    if m := _DRIVE_RE.match(path):
        rest = path[2:]
        return TargetPath(m.group(1).upper() + ":", tuple(p for p in re.split(r"[\\/]+", rest) if p))
    if path.startswith("/"):
        return TargetPath("", tuple(p for p in path.split("/") if p))
    raise Unexpressible(f"not an absolute path: {path!r}")


def check_expressible(path: TargetPath) -> None:
    """Raise Unexpressible if the target file system or a UTF-8 file format cannot hold ``path``."""
    for part in path.parts:
        check_name(part, path.is_windows)


def check_name(part: str, windows: bool) -> None:
    """Raise Unexpressible if one path component cannot be held (on Windows when ``windows``)."""
    if not part.isascii():
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            raise Unexpressible("the file name is not valid UTF-8 (no DJ program can refer to it)") from None
    if part in (".", ".."):
        raise Unexpressible(f"the path has a {part!r} component")
    if windows:
        if _WINDOWS_FORBIDDEN.search(part):
            raise Unexpressible(f'Windows does not allow the name {part!r} (it contains one of <>:"|?*)')
        if part.endswith((" ", ".")):
            raise Unexpressible(f"Windows does not allow the name {part!r} (it ends with a dot or space)")
        if part.split(".")[0].upper() in _WINDOWS_RESERVED:
            raise Unexpressible(f"Windows reserves the name {part!r}")


@dataclass(frozen=True, slots=True)
class PathRule:
    """Replace the leading ``source`` components of a path with ``target``."""

    source: TargetPath
    target: TargetPath


def parse_rule(text: str) -> tuple[str, str]:
    """``FROM=TO`` -> (FROM, TO); FROM may be empty (the CLI reads it as "each library folder")."""
    if "=" not in text:
        raise ValueError(f"a path map is FROM=TO, got {text!r}")
    source, target = text.split("=", 1)
    if not target.strip():
        raise ValueError(f"the path map {text!r} has nothing after '='")
    return source.strip(), target.strip()


class PathMapper:
    """Applies ``FROM=TO`` rules (longest FROM first) and a Unicode normalisation."""

    def __init__(self, rules: Iterable[tuple[str, str]] = (), normalization: str = "NFC") -> None:
        parsed: list[PathRule] = []
        for source, target in rules:
            try:
                parsed.append(PathRule(parse_path(source), parse_path(target)))
            except Unexpressible:
                raise ValueError(
                    f"a path map needs absolute paths on both sides: {source}={target}"
                ) from None
        parsed.sort(key=lambda r: len(r.source.parts), reverse=True)
        self.rules: tuple[PathRule, ...] = tuple(parsed)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown Unicode normalisation {normalization!r}")
        self.normalization = normalization
        self._folders: dict[str, TargetPath | Unexpressible] = {}  # thousands of tracks share a folder
        self._local_folders: dict[str, str] = {}

    def map(self, path: str) -> TargetPath:
        """The target path for ``path``; raises Unexpressible.  Folders are mapped once and cached."""
        folder, name = self.map_split(path)
        return TargetPath(folder.drive, (*folder.parts, name))

    def map_split(self, path: str) -> tuple[TargetPath, str]:
        """(target folder, file name) for ``path``; raises Unexpressible.  The folder is the same object
        for every file of a folder (writers cache what they derive from it)."""
        folder, sep, name = path.rpartition("/")
        if not sep or not folder or "\\" in path or not name:
            target = self._map(path)
            return TargetPath(target.drive, target.parts[:-1]), target.name
        mapped = self._folders.get(folder)
        if mapped is None:
            if len(self._folders) > 100_000:
                self._folders.clear()
            try:
                mapped = self._map(folder)
            except Unexpressible as why:
                mapped = why
            self._folders[folder] = mapped
        if isinstance(mapped, Unexpressible):
            raise mapped
        if self.normalization and not name.isascii():
            name = unicodedata.normalize(self.normalization, name)  # type: ignore[arg-type]
        check_name(name, bool(mapped.drive))
        return mapped, name

    def _map(self, path: str) -> TargetPath:
        target = parse_path(path)
        for rule in self.rules:
            if _starts_with(target, rule.source):
                target = TargetPath(
                    rule.target.drive, rule.target.parts + target.parts[len(rule.source.parts) :]
                )
                break
        target = target.normalized(self.normalization)
        check_expressible(target)
        return target

    def map_local(self, path: str) -> str:
        """For import: the local path for a path another program wrote (rules applied, no checks)."""
        folder, sep, name = path.rpartition("/")
        if not sep or not folder or "\\" in path or not name:
            return self._map_local(path)
        mapped = self._local_folders.get(folder)
        if mapped is None:
            if len(self._local_folders) > 100_000:
                self._local_folders.clear()
            mapped = self._local_folders[folder] = self._map_local(folder)
        if mapped == folder:
            return path
        if mapped.endswith(("/", "\\")):  # a drive's root, "C:\\"
            return mapped + name
        return f"{mapped}\\{name}" if "\\" in mapped else f"{mapped}/{name}"

    def _map_local(self, path: str) -> str:
        try:
            target = parse_path(path)
        except Unexpressible:
            return path
        for rule in self.rules:
            if _starts_with(target, rule.source):
                target = TargetPath(
                    rule.target.drive, rule.target.parts + target.parts[len(rule.source.parts) :]
                )
                return target.as_native()
        return target.as_native()


def _starts_with(path: TargetPath, prefix: TargetPath) -> bool:
    if len(prefix.parts) > len(path.parts):
        return False
    head = path.parts[: len(prefix.parts)]
    if prefix.is_windows or path.is_windows:  # Windows compares names without case
        return path.drive.upper() == prefix.drive.upper() and [p.casefold() for p in head] == [
            p.casefold() for p in prefix.parts
        ]
    return head == prefix.parts and unicodedata.normalize("NFC", "/".join(head)) == unicodedata.normalize(
        "NFC", "/".join(prefix.parts)
    )


# -- file:// URIs (rekordbox Location) ---------------------------------------------------------------
_URI_SAFE = "/"  # everything else outside RFC 3986's unreserved set is percent-encoded (UTF-8)


_URI_FOLDERS: dict[TargetPath, str] = {}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~ -]*")  # needs no escaping but of its spaces


def quote_name(name: str) -> str:
    """One path component percent-encoded as UTF-8 (the common plain name without urllib's cost)."""
    if _PLAIN_NAME.fullmatch(name):
        return name.replace(" ", "%20")
    return quote(name, safe="")


def to_file_uri(path: TargetPath) -> str:
    """rekordbox's form: ``file://localhost/C:/a%20b.mp3`` or ``file://localhost/Users/a%20b.mp3``."""
    if not path.parts:
        return folder_uri(path)
    return folder_uri(TargetPath(path.drive, path.parts[:-1])) + quote_name(path.parts[-1])


def folder_uri(folder: TargetPath) -> str:
    """The ``file://`` URI of a folder, ending with ``/`` (cached: thousands of files share one)."""
    uri = _URI_FOLDERS.get(folder)
    if uri is None:
        if len(_URI_FOLDERS) > 100_000:
            _URI_FOLDERS.clear()
        encoded = "".join(quote_name(part) + "/" for part in folder.parts)
        uri = _URI_FOLDERS[folder] = (
            f"file://localhost/{folder.drive}/{encoded}" if folder.drive else f"file://localhost/{encoded}"
        )
    return uri


_URI_PATHS: dict[str, str] = {}


def from_file_uri(uri: str) -> str:
    """The path in a ``file://`` URI (POSIX or ``C:/...``), accepting the variants other tools write:
    ``file://localhost//Users``, ``file:///C:/``, ``C%3A``, and plain paths.  The folder part is decoded
    once per folder (a percent sequence never spans a ``/``)."""
    if uri[:5].lower() != "file:":
        return uri
    head, _, name = uri.rpartition("/")
    folder = _URI_PATHS.get(head)
    if folder is None:
        if len(_URI_PATHS) > 100_000:
            _URI_PATHS.clear()
        folder = _URI_PATHS[head] = _path_of_uri(head + "/")
    return folder + unquote(name, errors="surrogateescape")


def _path_of_uri(uri: str) -> str:
    rest = uri[5:]
    if rest.startswith("//"):
        rest = rest[2:]
        host, _, rest = rest.partition("/")
        rest = "/" + rest
        if host and host.lower() != "localhost":
            rest = f"//{host}{rest}"  # a network share
    path = unquote(rest, errors="surrogateescape")
    while path.startswith("//") and not path.startswith("///"):
        if _DRIVE_RE.match(path[2:]) or path[2:3] != "/":
            path = path[1:]
        else:
            break
    if _DRIVE_RE.match(path[1:]):  # /C:/Music -> C:/Music
        path = path[1:]
    return path


def same_path_forms(path: str) -> Sequence[str]:
    """The spellings of ``path`` to look up in the library: as given, NFC and NFD."""
    if path.isascii():
        return (path,)
    forms = [path]
    for form in ("NFC", "NFD"):
        other = unicodedata.normalize(form, path)  # type: ignore[arg-type]
        if other not in forms:
            forms.append(other)
    return forms
