"""Portable file names: examples of each rule, and properties over arbitrary text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crate_app.rename.sanitize import (
    SanitizeOptions,
    fit_component,
    fit_path,
    is_reserved_name,
    sanitize_component,
    sanitize_suffix,
    utf8_length,
    utf16_length,
)

# Written out here rather than imported, so that the checks do not share the code under test.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{d}" for p in ("COM", "LPT") for d in "123456789"}


def assert_portable(name: str, max_bytes: int = 255) -> None:
    """A name every one of Windows, macOS and Linux accepts and shows as written."""
    assert name, "empty name"
    assert name not in (".", ".."), name
    for ch in name:
        code = ord(ch)
        assert ch not in '<>:"/\\|?*', f"illegal {ch!r} in {name!r}"
        assert code >= 0x20 and not 0x7F <= code < 0xA0, f"control character in {name!r}"
        assert not 0xD800 <= code < 0xE000, f"lone surrogate in {name!r}"
    assert not name[0].isspace(), f"leading space in {name!r}"
    assert name[-1] not in ". " and not name[-1].isspace(), f"trailing dot or space in {name!r}"
    assert name.split(".")[0].rstrip(" ").upper() not in WINDOWS_RESERVED, f"reserved name {name!r}"
    assert len(name.encode("utf-8")) <= max_bytes, f"{name!r} is longer than {max_bytes} bytes"
    assert unicodedata.is_normalized("NFC", name), f"{name!r} is not NFC"


# Text that stresses the rules: separators, dots, reserved names, combining marks, astral characters.
nasty_pieces = st.sampled_from(
    [".", "..", "/", "\\", ":", " ", "\t", "\x00", "\x7f", "\x85", "CON", "nul", "Com1", "lpt9", "e\u0301",
     "\u0301", "\u00e9", "\U0001f3b5", "\udcff", "\ud800", "\u3000", "\u00a0", "A", "ß", "\u1100\u1161",
     "\u11a8", "(2)", "~", "-"]
)  # fmt: skip
nasty_text = st.lists(st.one_of(nasty_pieces, st.text(max_size=6)), max_size=12).map("".join)
any_text = st.one_of(nasty_text, st.text(alphabet=st.characters(exclude_categories=()), max_size=40))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Daft Punk", "Daft Punk"),
        ("AC/DC", "AC_DC"),
        ('What? "Why": <Now>|*', "What_ _Why__ _Now___"),
        ("back\\slash", "back_slash"),
        ("tab\there\nnewline", "tab_here_newline"),
        ("  padded  ", "padded"),
        ("trailing dots...", "trailing dots"),
        ("trailing dot and space. .", "trailing dot and space"),
        ("..", "_"),
        (".", "_"),
        ("", "_"),
        ("   ", "_"),
        ("/", "_"),
        ("CON", "CON_"),
        ("con.mp3", "con_.mp3"),
        ("Nul .txt", "Nul_ .txt"),
        ("LPT1", "LPT1_"),
        ("CONSOLE", "CONSOLE"),
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # NFD in, NFC out
        ("broken \udcff bytes", "broken _ bytes"),
        (".hidden", ".hidden"),  # a leading dot is legal everywhere
    ],
)
def test_examples(value: str, expected: str) -> None:
    assert sanitize_component(value) == expected


def test_long_names_are_cut_on_a_character_boundary() -> None:
    assert sanitize_component("x" * 300) == "x" * 255
    cut = sanitize_component("é" * 200)  # 2 bytes each: 127 fit in 255 bytes
    assert cut == "é" * 127
    cut = sanitize_component("a" + "\U0001f3b5" * 100)  # 4 bytes each
    assert cut == "a" + "\U0001f3b5" * 63


def test_a_cut_that_ends_in_a_dot_or_space_is_cleaned_again() -> None:
    assert sanitize_component("a" * 253 + ". b") == "a" * 253


def test_configurable_replacement_and_placeholder() -> None:
    options = SanitizeOptions(replacement="-", placeholder="Unknown")
    assert sanitize_component("AC/DC", options) == "AC-DC"
    assert sanitize_component("..", options) == "Unknown"
    assert sanitize_component("aux", options) == "auxUnknown"
    assert sanitize_component("a:b", SanitizeOptions(replacement="")) == "ab"


@pytest.mark.parametrize(
    "options",
    [
        {"replacement": "/"},
        {"replacement": "\x00"},
        {"placeholder": ""},
        {"placeholder": "con"},
        {"placeholder": "a."},
    ],
)
def test_options_that_would_make_illegal_names_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        SanitizeOptions(**options)


def test_reserved_names() -> None:
    assert is_reserved_name("CON")
    assert is_reserved_name("con.mp3")
    assert is_reserved_name("Com1.tar.gz")
    assert is_reserved_name("LPT¹")
    assert not is_reserved_name("CON_.mp3")
    assert not is_reserved_name("Conan")
    assert not is_reserved_name("COM10")


def test_suffixes() -> None:
    assert sanitize_suffix(".mp3") == ".mp3"
    assert sanitize_suffix(".en.lrc") == ".en.lrc"
    assert sanitize_suffix(".m:p3") == ".m_p3"
    assert sanitize_suffix(".mp3. ") == ".mp3"
    assert sanitize_suffix(".") == ""
    assert sanitize_suffix("") == ""


def test_lengths_count_bytes_and_utf16_units() -> None:
    assert utf8_length("aé\U0001f3b5") == 1 + 2 + 4
    assert utf16_length("aé\U0001f3b5") == 1 + 1 + 2
    assert utf8_length("\udcff") == 1  # an undecodable byte of a Linux file name


def test_fit_path_shortens_the_longest_components_first() -> None:
    options = SanitizeOptions(max_path_length=40)
    folders, stem = fit_path(["a" * 30, "bb"], "c" * 20, [".mp3"], options)  # type: ignore[misc]
    relative = "/".join([*folders, stem + ".mp3"])
    assert len(relative) <= 40
    assert folders[1] == "bb"
    assert len(folders[0]) == len(stem)  # both long ones cut to the same length


def test_fit_path_keeps_room_for_the_tag_and_every_suffix() -> None:
    _, stem = fit_path([], "s" * 300, [".mp3", ".en.lrc"], SanitizeOptions(), " (2)")  # type: ignore[misc]
    assert len(stem + " (2)" + ".en.lrc") == 255


def test_fit_path_gives_up_when_nothing_can_fit() -> None:
    assert fit_path(["a", "b", "c"], "d", [".mp3"], SanitizeOptions(max_path_length=8)) is None
    assert fit_path([], "d", ["." + "x" * 260], SanitizeOptions()) is None


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_sanitising_gives_portable_names_and_is_idempotent(text: str) -> None:
    name = sanitize_component(text)
    assert_portable(name)
    assert sanitize_component(name) == name


@settings(max_examples=200, deadline=None)
@given(any_text, st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=40))
def test_fitting_respects_both_limits(text: str, max_bytes: int, max_units: int) -> None:
    name = fit_component(text, SanitizeOptions(), max_bytes, max_units)
    assert name is not None  # the one-character placeholder always fits
    assert_portable(name, max_bytes)
    assert utf16_length(name) <= max_units
    assert sanitize_component(name) == name


@settings(max_examples=200, deadline=None)
@given(
    st.lists(any_text, max_size=4),
    any_text,
    st.lists(st.sampled_from([".mp3", ".flac", ".cue", ".en.lrc", ".é"]), min_size=1, max_size=3),
    st.integers(min_value=5, max_value=300),
)
def test_fitted_paths_are_portable_and_within_the_limit(
    folders: list[str], stem: str, suffixes: list[str], limit: int
) -> None:
    options = SanitizeOptions(max_path_length=limit)
    fitted = fit_path([sanitize_component(f) for f in folders], sanitize_component(stem), suffixes, options)
    if fitted is None:
        assert len(folders) * 2 + 1 + max(map(len, suffixes)) > limit  # only when even 1-character names fail
        return
    fitted_folders, fitted_stem = fitted
    for suffix in suffixes:
        components = [*fitted_folders, fitted_stem + suffix]
        for component in components:
            assert_portable(component)
        assert utf16_length("/".join(components)) <= limit
