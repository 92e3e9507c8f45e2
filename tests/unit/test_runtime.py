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


_TAG_READER_PARENT = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from crate_app.runtime import become_tag_reader

if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=become_tag_reader,
                               initargs=(os.getpid(),))
    print(pool.submit(os.getpid).result(timeout=120), flush=True)
    time.sleep(600)
"""


def test_tag_readers_end_when_the_scan_process_is_killed(tmp_path) -> None:
    """The scanner's reader processes (the same initializer) go when their parent dies by SIGKILL."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(_TAG_READER_PARENT)
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": root})  # fmt: skip
    try:
        reader = int(parent.stdout.readline())
        os.kill(reader, 0)  # running
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(reader, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(reader, signal.SIGKILL)
            raise AssertionError("the tag reader outlived its parent by 10 s")
    finally:
        parent.kill()
