"""Test set-up shared by every test: offscreen Qt, a private settings/cache area, test data paths."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

# Must be set before any Qt module is imported, so that a bare `pytest` works on a machine with no screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep the tests away from the user's real settings, library and caches (even when CRATE_HOME or
# XDG_CONFIG_HOME are set in the shell): one folder per test run, made by the process that starts the
# run (pytest-xdist workers inherit it) and removed when the run ends.
_sandbox: Path | None = None
if "CRATE_TESTS_SANDBOX" not in os.environ:
    _sandbox = Path(tempfile.mkdtemp(prefix="crate-tests-"))
    os.environ["CRATE_TESTS_SANDBOX"] = str(_sandbox)
    os.environ["CRATE_HOME"] = str(_sandbox)
    os.environ["XDG_CONFIG_HOME"] = str(_sandbox / "config")
os.environ.pop("CRATE_LIBRARY", None)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

TESTDATA = Path(os.environ.get("CRATE_TESTDATA", ROOT.parent / "shared" / "testdata"))


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The third-party sample files (../shared/testdata, or $CRATE_TESTDATA)."""
    if not TESTDATA.is_dir():
        pytest.fail(
            f"test data not found at {TESTDATA}: set CRATE_TESTDATA to the shared/testdata folder",
            pytrace=False,
        )
    return TESTDATA


@pytest.fixture
def library(tmp_path: Path):
    """A new library: a real SQLite file in the test's temporary folder."""
    from crate_app.store.library import open_library

    lib = open_library(tmp_path / "library.sqlite")
    yield lib
    lib.close()


@pytest.fixture
def other_filesystem():
    """A folder on another filesystem than the temporary folder (tmpfs), or a skip saying why not."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == Path(tempfile.gettempdir()).stat().st_dev:
        pytest.skip("no second filesystem here (/dev/shm) to move across")
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="crate-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The process that made the run's sandbox folder removes it (a run must not leave a folder behind)."""
    if _sandbox is not None:
        import shutil

        shutil.rmtree(_sandbox, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort keeps the order otherwise): the README's command runs the suite
    on two pytest-xdist workers, and a slow file left for last would run alone on one of them."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
