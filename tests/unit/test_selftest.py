"""``crate --self-test`` from the source install: scan with worker processes, analyse, show Qt offscreen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from crate_app import selftest


@pytest.mark.slow
def test_self_test_passes_in_a_fresh_process() -> None:
    # A fresh interpreter, as `crate --self-test` runs it.
    done = subprocess.run(
        [sys.executable, "-c", "import sys, crate_app.selftest as s; sys.exit(s.run_self_test())"],
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["tracks"] == selftest.TINY_FILES + 1
    assert report["bpm"] == pytest.approx(120.0, abs=selftest.BPM_TOLERANCE)
    assert report["key"]  # a key was found (the chord is A minor; the test does not pin the estimator)
    assert report["worker_pid"] != os.getpid()
    assert report["frozen"] is False
    assert report["gui"] is True
    assert report["platform"] == "offscreen"
    assert {"python", "qt", "seconds"} <= report.keys()
    assert report["chromaprint"] and report["fingerprint_values"] >= 16  # libchromaprint, not fpcalc


def test_without_libchromaprint_the_self_test_fails_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import acoustid

    click = tmp_path / "click.wav"
    selftest.write_wav(click, selftest.click_track(seconds=12.0), selftest.SAMPLE_RATE)
    assert selftest.check_fingerprint(click, tmp_path)["fingerprint_values"] >= 16
    monkeypatch.setattr(acoustid, "have_chromaprint", False)  # as in a bundle without the library
    with pytest.raises(RuntimeError, match="libchromaprint could not be loaded"):
        selftest.check_fingerprint(click, tmp_path)


def test_a_failure_prints_ok_false_and_returns_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(home: object) -> dict[str, object]:
        raise RuntimeError("scan: expected 301 tracks, got 0")

    monkeypatch.setattr(selftest, "_self_test", broken)
    assert selftest.run_self_test() == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report == {"ok": False, "error": "RuntimeError: scan: expected 301 tracks, got 0"}
    assert "Traceback" in captured.err


def test_click_track_is_a_readable_wav(tmp_path: Path) -> None:
    path = tmp_path / "click.wav"
    selftest.write_wav(path, selftest.click_track(seconds=2.0), selftest.SAMPLE_RATE)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, selftest.SAMPLE_RATE)
        assert wav.getnframes() == 2 * selftest.SAMPLE_RATE
