"""The licence check of the app bundle (packaging/licences.py) on the distributions installed here."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_licences():
    spec = importlib.util.spec_from_file_location(
        "crate_packaging_licences", ROOT / "packaging" / "licences.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


licences = _load_licences()


def test_crate_itself_is_gpl_3_or_later_with_the_licence_text() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "GPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the whole text, not a stub


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("MIT", True),
        ("GPL-2.0-or-later", True),
        ("GPL-2.0+", True),
        ("GPL-2.0-only", False),
        ("AGPL-3.0-or-later", False),
        ("LicenseRef-Proprietary", False),
        ("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", True),
        ("MIT OR AGPL-3.0-only", True),
        ("MIT AND AGPL-3.0-only", False),
        ("(MIT OR GPL-2.0-only) AND Apache-2.0 WITH LLVM-exception", True),
        ("Apache-2.0 WITH Some-Unknown-exception", False),
        ("SSPL-1.0", False),
    ],
)
def test_expressions(expression: str, allowed: bool) -> None:
    assert licences.expression_allowed(expression)[0] is allowed


def test_an_unreadable_expression_is_an_error_not_a_pass() -> None:
    with pytest.raises(licences.LicenceError):
        licences.expression_allowed("MIT AND (BSD-3-Clause")


@pytest.mark.parametrize(
    ("name", "expression", "found_in"),
    [
        ("mutagen", "GPL-2.0-or-later", "License-Expression"),  # the reason Crate is GPL
        ("PySide6-Essentials", "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", "License"),
        ("peewee", "MIT", "licence file"),  # its metadata names no licence: read from the text
        ("scipy", "BSD-3-Clause", "classifier"),
    ],
)
def test_real_distributions_are_read_from_where_they_state_it(
    name: str, expression: str, found_in: str
) -> None:
    result = licences.review(metadata.distribution(name))
    assert (result.expression, result.found_in, result.allowed) == (expression, found_in, True)
    assert result.texts, f"no licence text collected for {name}"


def test_pyside6_without_licence_files_gets_the_lgpl_text() -> None:
    result = licences.review(metadata.distribution("PySide6-Essentials"))
    assert result.reason == "LGPL-3.0-only"
    assert any("GNU LESSER GENERAL PUBLIC LICENSE" in text for _name, text in result.texts)


def test_everything_crate_needs_at_run_time_may_be_shipped(tmp_path: Path) -> None:
    reviews = licences.review_bundle("crate-app")
    names = {licences.canonical(r.name) for r in reviews}
    assert {"pyside6-essentials", "mutagen", "scipy", "numpy", "av", "peewee"} <= names
    assert "pytest" not in names  # test extras are not bundled
    assert licences.refusals(reviews) == []
    notices = licences.write_notices(reviews, tmp_path / "NOTICES.txt", licences.python_licence_file())
    text = notices.read_text(encoding="utf-8")
    for r in reviews:
        assert f"{r.name} {r.version} - {r.expression}" in text
    assert "Permission is hereby granted" in text  # peewee's MIT text, in full


def test_an_installed_agpl_distribution_fails_the_check(tmp_path: Path) -> None:
    info = tmp_path / "netthing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: netthing\nVersion: 1.0\nLicense-Expression: AGPL-3.0-or-later\n"
    )
    (info / "RECORD").write_text("")
    result = licences.review(metadata.PathDistribution(info))
    assert not result.allowed
    assert licences.refusals([result]) == [
        "netthing 1.0: AGPL-3.0-or-later "
        "(AGPL-3.0-or-later: AGPL adds network-use obligations Crate does not take on)"
    ]


def test_a_distribution_that_states_no_licence_fails_the_check(tmp_path: Path) -> None:
    info = tmp_path / "mystery-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mystery\nVersion: 2.0\n")
    (info / "RECORD").write_text("")
    result = licences.review(metadata.PathDistribution(info))
    assert (result.allowed, result.reason) == (False, "no licence found in its metadata or licence files")


def test_a_debian_copyright_file_gives_the_spdx_licences_of_its_files() -> None:
    text = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
License: Expat

Files: src/resample.c
License: LGPL-2.1+

Files: debian/*
License: GPL-2

License: Expat
 Permission is hereby granted...
"""
    assert licences.debian_licence(text) == "MIT AND LGPL-2.1-or-later"  # debian/* is not shipped
    assert licences.debian_licence(text.replace("LGPL-2.1+", "GPL-2")) == "MIT AND GPL-2.0-only"
    assert licences.expression_allowed("MIT AND GPL-2.0-only")[0] is False
    assert licences.debian_licence(text.replace("LGPL-2.1+", "public-domain")) is None  # unknown: refused
    assert licences.debian_licence("Not machine-readable") is None


def test_the_bundled_libchromaprint_is_found_and_may_be_shipped() -> None:
    path = licences.find_system_library("chromaprint")
    assert path is not None, "libchromaprint is not installed (packaging/dev.sh installs it)"
    review = licences.review_system_library("chromaprint", path)
    assert review.allowed, review.reason
    assert "MIT" in review.expression and review.texts and review.texts[0][1].strip()
    missing = licences.review_system_library("chromaprint", None)
    assert not missing.allowed and "not installed" in missing.reason


_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
License: LGPL-2.1+

Files: src/fast.c
License: BSD-3-clause or GPL-2

Files: src/sun.c
License: Sundry
 This source code is freely redistributable and may be used for any purpose.

Files: debian/*
License: GPL-2
"""


def test_a_debian_package_is_judged_by_every_licence_of_its_copyright_file() -> None:
    verdict = licences.debian_package_verdict
    assert verdict("foo", _COPYRIGHT)[:2] == (True, "all its licences allow it")  # OR, text, debian/*
    refused = _COPYRIGHT + "\nFiles: src/decoder.c\nLicense: GPL-2\n"
    allowed, reason, _found = verdict("foo", refused)
    assert not allowed and "GPL-2.0-only" in reason and "src/decoder.c" in reason
    advertising = (
        _COPYRIGHT + "\nFiles: x.c\nLicense: Odd\n All advertising materials mentioning features...\n"
    )
    assert not verdict("foo", advertising)[0]
    unknown = _COPYRIGHT + "\nFiles: y.c\nLicense: Mystery\n"
    assert not verdict("foo", unknown)[0] and "unknown to this check" in verdict("foo", unknown)[1]
    # A licence the review found on files the library is not built from (util-linux's programs).
    programs = _COPYRIGHT + "\nFiles: sys-utils/nsenter.c\nLicense: GPL-2\n"
    assert not verdict("foo", programs)[0]
    assert verdict("util-linux", programs)[0]
    # Not machine-readable: only packages reviewed by hand, while their text still says what was read.
    plain = "Copyright 1988 The Open Group\n\nPermission to use, copy, modify, distribute, and sell this..."
    assert verdict("libxau", plain)[0]
    assert not verdict("libxau", "All rights reserved.")[0]
    assert not verdict("somethingelse", plain)[0]


def _toc_of_chromaprint_dependencies(tmp_path: Path) -> Path:
    """A PyInstaller table of contents listing what libchromaprint loads (ldd), as a build collects."""
    import subprocess

    chromaprint = licences.find_system_library("chromaprint")
    assert chromaprint is not None, "libchromaprint is not installed (packaging/dev.sh installs it)"
    listing = subprocess.run(["ldd", str(chromaprint)], capture_output=True, text=True, check=True).stdout
    entries = [(chromaprint.name, str(chromaprint), "BINARY")]
    for line in listing.splitlines():
        name, _, rest = line.strip().partition(" => ")
        target = rest.split(" (")[0].strip()
        if target.startswith("/") and not name.startswith(("libc.so", "libm.so", "ld-linux", "libpthread")):
            entries.append((name, target, "BINARY"))
    entries.append(("numpy/_core/x.so", str(Path(sys.prefix) / "lib" / "x.so"), "EXTENSION"))  # a wheel's
    toc = tmp_path / "COLLECT-00.toc"
    toc.write_text(repr((entries,)))
    return toc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="system libraries are checked with dpkg")
def test_the_libraries_chromaprint_pulls_into_the_bundle_are_reviewed_by_their_debian_packages(
    tmp_path: Path,
) -> None:
    import shutil

    if shutil.which("dpkg") is None:
        pytest.skip("not a Debian or Ubuntu system: nothing to map libraries to packages")
    toc = _toc_of_chromaprint_dependencies(tmp_path)
    collected = licences.collected_binaries(toc)
    assert "numpy/_core/x.so" not in dict(collected)  # a wheel's own is reviewed with its distribution
    reviews = licences.review_collected_libraries(toc, already=["libchromaprint1"])
    names = {r.name for r in reviews}
    assert any(name.startswith("libavcodec") for name in names)  # FFmpeg, through Chromaprint
    assert "libchromaprint1 (Debian)" not in names  # reviewed once, by SYSTEM_LIBRARIES
    assert licences.refusals(reviews) == [], licences.refusals(reviews)
    assert all(r.texts and r.native_libraries for r in reviews)
    for r in reviews:  # refused ones are only those waived, by name
        assert r.allowed or "zvbi" in r.name, r.reason
    notices = licences.write_notices(reviews, tmp_path / "NOTICES.txt")
    text = notices.read_text()
    assert "libavcodec" in text and "the same text as" in text  # FFmpeg's libraries share one file
