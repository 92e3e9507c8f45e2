"""File ▸ Export / Import in the window: the menus, the dialog, a real export and import with a report."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from crate_app import crates
from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.gui.exchange_dialog import load_path_map
from crate_app.store.library import open_library
from crate_app.store.writer import upsert_scanned


def _library(tmp_path: Path):
    music = tmp_path / "Music"
    music.mkdir()
    files = []
    for i in range(3):
        path = music / f"Track {i} & Co.wav"
        path.write_bytes(os.urandom(500 + i))
        files.append(
            ScannedFile(str(path), path.stat().st_size, 0.0, TagInfo(format="wav", bpm=120.0 + i, key=i))
        )
    lib = open_library(tmp_path / "lib.crate")
    upsert_scanned(lib, files)
    crate = crates.create_path(lib, "Sets/Friday", "crate")
    crates.add_tracks(lib, crate.id, [lib.track_by_path(f.path).id for f in reversed(files)])
    crates.create_path(lib, "Other", "crate")
    return lib, music


def test_export_dialog_writes_the_chosen_crate_and_remembers_the_map(qtbot, tmp_path, make_window) -> None:
    lib, music = _library(tmp_path)
    window = make_window(lib)
    titles = [a.text() for a in window.exchange.export_menu.actions()]
    assert titles == [
        "rekordbox XML\u2026",
        "Traktor NML\u2026",
        "Serato Crates\u2026",
        "Engine DJ\u2026",
        "M3U8 Playlists\u2026",
    ]
    assert window.exchange.import_menu.actions()[0].text() == "rekordbox XML\u2026"

    dialog = window.exchange.export_crates(("Sets/Friday",))
    assert dialog.chosen_radio.isChecked() and dialog.chosen_crates() == ("Sets/Friday",)
    dest = tmp_path / "out" / "rb.xml"
    dialog.path_edit.setText(str(dest))
    dialog._add_map_row(str(music), "/Volumes/DJUSB/Music")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.close_button.isVisible(), timeout=20_000)
    assert dialog.status.text().startswith("Exported 3 tracks and 1 playlists"), dialog.status.text()
    text = dest.read_text("utf-8")
    assert (
        "file://localhost/Volumes/DJUSB/Music/Track%200%20%26%20Co.wav" in text and 'Name="Other"' not in text
    )
    assert load_path_map(window.settings_store) == [(str(music), "/Volumes/DJUSB/Music")]
    # the next export dialog starts with the remembered map
    again = window.exchange.show_dialog("export", "m3u8")
    assert again.map_rules() == [(str(music), "/Volumes/DJUSB/Music")]
    again.reject()

    # Engine DJ: a library for the drive, at the older schema chosen in the dialog
    engine = window.exchange.show_dialog("export", "engine")
    engine.engine_schema.setCurrentIndex(1)
    engine.path_edit.setText(str(tmp_path / "usb"))
    engine._add_map_row(str(tmp_path / "usb"), "/Volumes/DJUSB")
    engine.start()
    qtbot.waitUntil(lambda: engine.close_button.isVisible(), timeout=20_000)
    assert engine.status.text().startswith("Exported 3 tracks and 2 playlists"), engine.status.text()
    db = sqlite3.connect(tmp_path / "usb" / "Engine Library" / "Database2" / "m.db")
    assert db.execute("SELECT schemaVersionPatch FROM Information").fetchone()[0] == 1
    assert {p for (p,) in db.execute("SELECT path FROM Track")} == {
        f"../Music/Track {i} & Co.wav" for i in range(3)
    }
    db.close()


def test_import_dialog_reports_and_a_bad_file_changes_nothing(qtbot, tmp_path, make_window) -> None:
    lib, music = _library(tmp_path)
    window = make_window(lib)
    source = tmp_path / "bad.xml"
    source.write_text('<?xml version="1.0"?><DJ_PLAYLISTS><COLLECTION><TRACK Location="file://localhost/x')
    dialog = window.exchange.show_dialog("import", "rekordbox")
    dialog.path_edit.setText(str(source))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.close_button.isVisible(), timeout=20_000)
    assert dialog.status.text().startswith("Nothing was written: bad.xml is not a complete, well-formed XML")

    # asked to, the dialog imports what comes before the damage and lists the rest
    first = sorted(music.iterdir())[0]
    cut = tmp_path / "cut.xml"
    cut.write_text(
        '<?xml version="1.0"?><DJ_PLAYLISTS Version="1.0.0"><COLLECTION Entries="2"><TRACK TrackID="1" '
        f'Location="file://localhost{quote(str(first))}"/><TRACK TrackID="2" Loc'
    )
    dialog = window.exchange.show_dialog("import", "rekordbox")
    dialog.partial.setChecked(True)
    dialog.path_edit.setText(str(cut))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.close_button.isVisible(), timeout=20_000)
    assert "1 tracks (1 matched, 0 added, 0 not found)" in dialog.status.text(), dialog.status.text()
    assert "the rest of the file left out" in dialog.report.toPlainText()

    good = tmp_path / "good.m3u8"
    good.write_text(
        "#EXTM3U\n" + "\n".join(str(p) for p in sorted(music.iterdir())) + "\n/nowhere/gone.mp3\n"
    )
    dialog = window.exchange.show_dialog("import", "m3u8")
    dialog.path_edit.setText(str(good))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.close_button.isVisible(), timeout=20_000)
    assert "4 tracks (3 matched, 0 added, 1 not found), 1 playlists" in dialog.status.text()
    assert "not found: /nowhere/gone.mp3" in dialog.report.toPlainText()
    assert [n.path for n in crates.list_nodes(lib, with_counts=False)][-2:] == ["M3U", "M3U/good"]


def test_export_from_a_crates_context_menu(qtbot, tmp_path, make_window) -> None:
    lib, _ = _library(tmp_path)
    window = make_window(lib)
    sidebar = window.crates.sidebar
    node = crates.node_by_path(lib, "Sets/Friday")
    qtbot.waitUntil(lambda: sidebar.select_node(node.id), timeout=10_000)
    menu = sidebar.context_menu(sidebar.model.node_index(node.id))
    assert sidebar.export_action in menu.actions()
    sidebar.export_action.trigger()
    dialog = window.exchange.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.chosen_crates() == ("Sets/Friday",) and dialog.chosen_radio.isChecked()
