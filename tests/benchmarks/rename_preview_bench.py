"""The rename preview at scale: plan N library rows through the dialog and measure the window's stalls.

    python tests/benchmarks/rename_preview_bench.py 100000

The rows are synthetic (their files need not exist: planning only asks whether targets are taken).
Prints the planning time (first plan, after four keystrokes, after a keystroke made while a plan
runs), the longest gap of a 10 ms timer
on the GUI thread meanwhile, slow garbage collections, and the cost of opening the preview model.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.gui.rename_dialog import RenameDialog
from crate_app.services.rename_service import RenameSelection, RenameService
from crate_app.store import writer
from crate_app.store.library import open_library


def synthetic_rows(root: str, count: int) -> list[ScannedFile]:
    return [
        ScannedFile(
            f"{root}/a{i % 500}/{i:06d}.mp3",
            1000,
            1.0,
            TagInfo(
                format="mp3",
                title=f"Song {i % 20000}",
                artist=f"Artist {i % 700}",
                album=f"Album {i % 3000}",
                track_no=i % 14 + 1,
                bpm=120.0 + i % 30,
                key=i % 24,
            ),
        )
        for i in range(count)
    ]


class Stalls:
    """Gaps between the ticks of a 10 ms timer on the GUI thread, and slow garbage collections."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.collections: list[tuple[int, float]] = []
        self._last = time.perf_counter()
        self._gc_started = 0.0
        self.timer = QTimer()
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start(10)
        gc.callbacks.append(self._on_gc)

    def reset(self) -> None:
        self.gaps.clear()
        self.collections.clear()
        self._last = time.perf_counter()

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif (seconds := time.perf_counter() - self._gc_started) > 0.05:
            self.collections.append((info["generation"], seconds))

    def report(self) -> str:
        slow = ", ".join(f"gen{g} {s * 1000:.0f} ms" for g, s in self.collections) or "none"
        return f"longest GUI stall {max(self.gaps, default=0) * 1000:.0f} ms; collections > 50 ms: {slow}"


def wait_for_preview(app: QApplication, dialog: RenameDialog) -> None:
    while not dialog.is_up_to_date:
        app.processEvents()
        time.sleep(0.002)


def main(count: int) -> None:
    app = QApplication([sys.argv[0]])
    folder = Path(tempfile.mkdtemp(prefix="crate-rename-bench-"))
    library = open_library(folder / "library.sqlite")
    root = str(folder / "music")
    library.add_root(root)
    started = time.perf_counter()
    writer.upsert_scanned(library, synthetic_rows(root, count))
    print(f"{count:,} rows written in {time.perf_counter() - started:.1f} s")

    service = RenameService(library)
    stalls = Stalls()
    started = time.perf_counter()
    dialog = RenameDialog(service, RenameSelection(description=f"all {count:,} tracks"), roots=[root])
    dialog.show()
    print(f"dialog shown in {(time.perf_counter() - started) * 1000:.0f} ms")

    stalls.reset()
    started = time.perf_counter()
    dialog.set_template("{artist}/{album}/{title}")
    wait_for_preview(app, dialog)
    assert dialog.preview is not None
    print(
        f"first plan: {time.perf_counter() - started:.1f} s (job {dialog.preview.seconds:.1f} s), "
        f"{dialog.preview_model.rowCount():,} rows; {stalls.report()}"
    )

    stalls.reset()
    started = time.perf_counter()
    for character in " - x":
        dialog.template_edit.insert(character)
        for _ in range(5):
            app.processEvents()
            time.sleep(0.02)
    wait_for_preview(app, dialog)
    print(
        f"after 4 keystrokes: {time.perf_counter() - started:.1f} s (job {dialog.preview.seconds:.1f} s, "
        f"tracks read once); {stalls.report()}; rows formatted {dialog.preview_model.rows_formatted}"
    )

    # A keystroke while a plan runs: the outdated plan stops, so the preview is only one plan away.
    dialog.set_template("{albumartist|artist}/{album}/{track:02} {title}")
    pumped = time.perf_counter()
    while time.perf_counter() - pumped < 1.0:
        app.processEvents()
        time.sleep(0.01)
    stalls.reset()
    started = time.perf_counter()
    dialog.template_edit.insert("!")
    wait_for_preview(app, dialog)
    print(
        f"a keystroke 1 s into a plan: preview up to date {time.perf_counter() - started:.1f} s later "
        f"(its own plan {dialog.preview.seconds:.1f} s); {stalls.report()}"
    )

    started = time.perf_counter()
    dialog.preview_model.set_preview(dialog.preview, [root])
    rows = dialog.preview_model.rowCount()
    seconds = time.perf_counter() - started
    print(f"preview model reset+rowCount: {seconds * 1000:.2f} ms for {rows:,} rows")
    dialog.reject()
    service.shutdown()
    library.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
