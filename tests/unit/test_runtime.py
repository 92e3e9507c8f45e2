"""Process-wide settings: native thread pools pinned before numpy loads, the GIL handed over sooner."""

import sys

import pytest

from crate_app.runtime import (
    GUI_SWITCH_INTERVAL_S,
    NATIVE_THREAD_ENV_VARS,
    favour_the_gui_thread,
    freeze_startup_objects,
    pin_native_threads,
)


def test_pins_unset_pools_and_keeps_the_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NATIVE_THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    pin_native_threads()
    import os

    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert all(os.environ[name] == "1" for name in NATIVE_THREAD_ENV_VARS if name != "OMP_NUM_THREADS")


def test_the_gui_process_hands_the_gil_over_sooner() -> None:
    before = sys.getswitchinterval()
    try:
        favour_the_gui_thread()
        assert sys.getswitchinterval() == pytest.approx(GUI_SWITCH_INTERVAL_S)
        assert before > GUI_SWITCH_INTERVAL_S
    finally:
        sys.setswitchinterval(before)


def test_objects_made_at_start_up_leave_the_collectors_generations() -> None:
    import gc

    made_at_start_up = [[n] for n in range(1000)]  # containers: tracked by the collector
    before = gc.get_freeze_count()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= before + len(made_at_start_up)
    finally:
        gc.unfreeze()


def _worker_state() -> tuple[int, bool]:
    import os
    import signal

    return (os.nice(0) if hasattr(os, "nice") else 0), signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_worker_processes_ignore_ctrl_c_and_yield_the_cpu() -> None:
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from crate_app.runtime import BACKGROUND_NICENESS, become_background_worker

    context = get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=become_background_worker) as pool:
        niceness, ignores_ctrl_c = pool.submit(_worker_state).result(timeout=60)
    assert ignores_ctrl_c
    if hasattr(os, "nice"):  # POSIX: Windows has no niceness
        assert niceness == min(19, os.nice(0) + BACKGROUND_NICENESS)
