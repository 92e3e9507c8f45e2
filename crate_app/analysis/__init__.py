"""BPM and key analysis (no Qt).  Importing this package is cheap: librosa loads on first use."""

from crate_app.analysis.analyze import analyze_file, analyze_samples, configure_numba_cache, warm_up

__all__ = ["analyze_file", "analyze_samples", "configure_numba_cache", "warm_up"]
