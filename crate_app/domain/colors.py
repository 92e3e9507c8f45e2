"""Track colours: the eight colours DJ apps tag tracks with (rekordbox's palette names)."""

from __future__ import annotations

# name -> #rrggbb, in the order the menus show them.
TRACK_COLORS: dict[str, str] = {
    "pink": "#f870f8",
    "red": "#e0301e",
    "orange": "#ff8c00",
    "yellow": "#ffd700",
    "green": "#32be44",
    "aqua": "#2dc8d2",
    "blue": "#3c6ef0",
    "purple": "#aa5ae6",
}
_ALIASES = {"cyan": "aqua", "turquoise": "aqua", "violet": "purple", "magenta": "pink", "rose": "pink"}


def parse_track_color(text: str | None) -> str:
    """A colour name as stored ('' for none); ValueError naming the choices for anything else."""
    if text is None:
        return ""
    name = text.strip().lower()
    if name in ("", "none", "no"):
        return ""
    name = _ALIASES.get(name, name)
    if name not in TRACK_COLORS:
        raise ValueError(f"unknown colour {text!r} (try {', '.join(TRACK_COLORS)} or none)")
    return name
