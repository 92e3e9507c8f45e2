"""A rename batch another process runs: the window shows it, does not offer it, and follows its moves."""

from __future__ import annotations

from pathlib import Path

from unit.test_rename_lock import make_batch, start_holder

from crate_app.gui.rename_history import RenameHistoryDialog, can_resume


def test_a_batch_running_in_another_process_is_shown_not_offered_and_followed(
    qtbot, make_window, library, tmp_path: Path
) -> None:
    batch, root = make_batch(library, tmp_path)
    holder = start_holder(library, batch)
    try:
        window = make_window(library)
        assert window.rename_service.unfinished_batches() == []  # no "resume it?" question at start
        history = RenameHistoryDialog(window.rename_service, window)
        qtbot.addWidget(history)
        row = [info.id for info in history.batches].index(batch)
        assert history.table.item(row, 3).text() == "running in another Crate window or crate-cli"
        info = history.batches[row]
        assert can_resume(info) and not can_resume(info, None, history.elsewhere)
        history.table.selectRow(row)
        assert history.selected_batch() == info
        assert not history.resume_button.isEnabled() and not history.undo_button.isEnabled()
        holder.communicate("go\ngo\n", timeout=60)
        assert holder.returncode == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    wanted = {str(root / "A" / "a.mp3"), str(root / "B" / "b.mp3")}

    def moved_paths() -> set[str]:
        return {window.model.track_at(r).path for r in range(window.model.rowCount())}

    qtbot.waitUntil(lambda: moved_paths() == wanted, timeout=3_000)  # the other process's moves show
