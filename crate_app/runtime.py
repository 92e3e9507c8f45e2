"""Process-wide settings that must be made before heavy libraries load."""

from __future__ import annotations

import os

NATIVE_THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def pin_native_threads() -> None:
    """One thread per BLAS/OpenMP/numba pool: analysis gets its parallelism from its own workers.

    Must run before numpy is first imported (worker processes inherit it); a value the user set is kept.
    """
    for name in NATIVE_THREAD_ENV_VARS:
        os.environ.setdefault(name, "1")
