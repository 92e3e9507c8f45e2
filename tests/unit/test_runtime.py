"""Native thread pools are pinned to one thread before numpy loads, unless the user chose otherwise."""

import pytest

from crate_app.runtime import NATIVE_THREAD_ENV_VARS, pin_native_threads


def test_pins_unset_pools_and_keeps_the_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NATIVE_THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    pin_native_threads()
    import os

    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert all(os.environ[name] == "1" for name in NATIVE_THREAD_ENV_VARS if name != "OMP_NUM_THREADS")
