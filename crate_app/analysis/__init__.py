"""BPM and key analysis (no Qt).  Importing this package is cheap: numpy, scipy.fft and PyAV load when
``analyze_file`` and the others are first used, so the window's process (which only drives analysis
processes) never loads them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["analyze_file", "analyze_samples", "warm_up"]

if TYPE_CHECKING:
    from crate_app.analysis.analyze import analyze_file, analyze_samples, warm_up


def __getattr__(name: str) -> Any:
    if name in __all__:
        from crate_app.analysis import analyze

        return getattr(analyze, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
