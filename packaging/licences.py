"""The licences of everything Crate's app bundle ships, checked and written into a notices file.

Crate is GPL-3.0-or-later.  Every Python distribution the bundle carries (crate-app's runtime
requirements, followed recursively in the build environment) must allow being shipped inside a
GPL-3.0-or-later program: its licence (PEP 639 ``License-Expression``, else the ``License`` field,
else the trove classifiers, else the text of its licence file) must reduce to an allowed family.
An SPDX expression ``A OR B`` needs one allowed side, ``A AND B`` both.  Anything unknown, AGPL,
GPL-2.0-only, or proprietary fails.

``write_notices`` writes every distribution's name, version, licence and full licence texts (the
files its wheel installed, or the standard text for a licence shipped without one) into one file.
Used by ``packaging/build.py``; run it alone to print the review::

    python packaging/licences.py [--notices PATH]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

HERE = Path(__file__).resolve().parent
STANDARD_TEXTS = HERE / "licence-texts"  # full texts for distributions that ship none

# SPDX identifiers (lower case) that may be shipped inside a GPL-3.0-or-later program.
ALLOWED = {
    "0bsd", "mit", "mit-0", "bsd-2-clause", "bsd-3-clause", "isc", "zlib", "cc0-1.0", "unlicense",
    "hpnd", "bsl-1.0", "python-2.0", "psf-2.0", "apache-2.0", "mpl-2.0",
    "lgpl-2.1-only", "lgpl-2.1-or-later", "lgpl-3.0-only", "lgpl-3.0-or-later",
    "gpl-2.0-or-later", "gpl-3.0-only", "gpl-3.0-or-later",
}  # fmt: skip
# Exceptions that only add permissions.
ALLOWED_EXCEPTIONS = {
    "llvm-exception",
    "classpath-exception-2.0",
    "gcc-exception-3.1",
    "bootloader-exception",
}
WHY_NOT = {
    "gpl-2.0-only": "GPL-2.0-only cannot be combined with GPL-3.0 code",
    "agpl": "AGPL adds network-use obligations Crate does not take on",
    "licenseref-proprietary": "a proprietary licence does not allow redistribution",
}
# Old-style License fields and trove classifiers -> SPDX.
LEGACY_NAMES = {
    "bsd": "BSD-3-Clause", "bsd license": "BSD-3-Clause", "new bsd": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause", "bsd-3": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause",
    "mit license": "MIT", "mit": "MIT", "isc license (iscl)": "ISC", "isc": "ISC",
    "apache software license": "Apache-2.0", "apache 2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "python software foundation license": "PSF-2.0",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.1-or-later",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "zlib/libpng license": "Zlib", "zlib/libpng": "Zlib", "the unlicense (unlicense)": "Unlicense",
}  # fmt: skip
# Opening words of common licence texts, for distributions whose metadata names no licence.
TEXT_SIGNATURES = [
    ("GNU AFFERO GENERAL PUBLIC LICENSE", "AGPL-3.0-only"),
    ("GNU LESSER GENERAL PUBLIC LICENSE", "LGPL-3.0-only"),
    ("GNU GENERAL PUBLIC LICENSE", None),  # version decided below
    ("Apache License", "Apache-2.0"),
    ("Mozilla Public License Version 2.0", "MPL-2.0"),
    ("Permission is hereby granted, free of charge, to any person obtaining a copy", "MIT"),
    ("Permission to use, copy, modify, and/or distribute this software for any", "ISC"),
    ("Neither the name of", "BSD-3-Clause"),
    ("Redistribution and use in source and binary forms", "BSD-2-Clause"),
]
LICENCE_FILE = re.compile(r"(licen[cs]e|copying|notice|copyright)", re.IGNORECASE)
STANDARD_FILE = {  # SPDX id (lower case, without -only/-or-later) -> file in licence-texts/
    "lgpl-3.0": "LGPL-3.0.txt", "lgpl-2.1": "LGPL-2.1.txt", "gpl-2.0": "GPL-2.0.txt",
    "gpl-3.0": "../../LICENSE",
}  # fmt: skip


class LicenceError(ValueError):
    """A licence expression that cannot be read."""


@dataclass
class Review:
    """One bundled distribution and what its licence allows."""

    name: str
    version: str
    expression: str | None  # SPDX, as found or derived
    found_in: str  # "License-Expression", "License", "classifier", "licence file" or "nothing"
    allowed: bool
    reason: str
    texts: list[tuple[str, str]] = field(default_factory=list)  # (file name, text)
    native_libraries: list[str] = field(default_factory=list)  # vendored by auditwheel/delocate


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def bundled_distributions(root: str = "crate-app") -> list[metadata.Distribution]:
    """The installed distributions ``root`` needs at run time (its requirements without extras,
    recursively, markers evaluated for this interpreter), sorted by name, without ``root``."""
    environment = {**default_environment(), "extra": ""}
    found: dict[str, metadata.Distribution] = {}
    pending = [root]
    while pending:
        name = canonical(pending.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise LicenceError(f"{name} is required but not installed") from exc
        found[name] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                pending.append(requirement.name)
    found.pop(canonical(root), None)
    return sorted(found.values(), key=lambda d: canonical(d.metadata["Name"]))


def _tokens(expression: str) -> list[str]:
    return re.findall(r"\(|\)|[^\s()]+", expression)


def expression_allowed(expression: str) -> tuple[bool, str]:
    """Whether an SPDX licence expression allows shipping inside GPL-3.0-or-later; and why."""
    tokens = _tokens(expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise LicenceError(f"unfinished licence expression {expression!r}")
        position += 1
        return tokens[position - 1]

    def simple() -> tuple[bool, str]:
        token = take()
        if token == "(":
            result = either()
            if take() != ")":
                raise LicenceError(f"unbalanced parentheses in {expression!r}")
            return result
        licence = token.lower()
        if licence.endswith("+"):
            licence = licence[:-1] + "-or-later" if "-or-later" not in licence else licence[:-1]
        if (peek() or "").upper() == "WITH":
            take()
            exception = take().lower()
            if exception not in ALLOWED_EXCEPTIONS:
                return False, f"{token} WITH {exception}: unknown exception"
        if licence in ALLOWED:
            return True, token
        reason = next((why for key, why in WHY_NOT.items() if licence.startswith(key)), None)
        return False, f"{token}: {reason or 'not on the allow-list of licences Crate can ship'}"

    def both() -> tuple[bool, str]:
        ok, why = simple()
        while (peek() or "").upper() == "AND":
            take()
            other_ok, other_why = simple()
            if ok and not other_ok:
                why = other_why
            elif ok:
                why = f"{why} AND {other_why}"
            ok = ok and other_ok
        return ok, why

    def either() -> tuple[bool, str]:
        ok, why = both()
        while (peek() or "").upper() == "OR":
            take()
            other_ok, other_why = both()
            if not ok and other_ok:
                ok, why = True, other_why  # the allowed alternative is the one Crate uses
        return ok, why

    if not tokens:
        raise LicenceError("empty licence expression")
    result = either()
    if peek() is not None:
        raise LicenceError(f"cannot read the licence expression {expression!r}")
    return result


def licence_texts(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """(name, text) of the licence files the distribution installed (its dist-info folder)."""
    texts: list[tuple[str, str]] = []
    for file in dist.files or []:
        parts = file.parts
        if not parts or not parts[0].endswith(".dist-info") or not LICENCE_FILE.search(file.name):
            continue
        if file.suffix in (".pyc", ".py", ".json"):
            continue
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            texts.append(("/".join(parts[1:]), path.read_text(encoding="utf-8", errors="replace")))
    return sorted(texts)


def native_libraries(dist: metadata.Distribution) -> list[str]:
    """Shared libraries the wheel vendored next to its package (``<name>.libs/``, ``.dylibs``)."""
    names = []
    for file in dist.files or []:
        if file.parts and (file.parts[0].endswith(".libs") or ".dylibs" in file.parts):
            names.append(file.name)
    return sorted(set(names))


def _from_text(text: str) -> str | None:
    head = " ".join(text.split())[:4000]
    for signature, spdx in TEXT_SIGNATURES:
        if signature.lower() in head.lower():
            if spdx is None:  # a GPL text: which version, and "or later"?
                version = "3.0" if "Version 3" in head else "2.0"
                later = "or (at your option) any later version" in head
                return f"GPL-{version}-{'or-later' if later else 'only'}"
            if spdx == "BSD-3-Clause" and "Redistribution and use" not in head:
                continue
            return spdx
    return None


def licence_of(dist: metadata.Distribution, texts: Iterable[tuple[str, str]]) -> tuple[str | None, str]:
    """The distribution's licence as an SPDX expression, and where it was found."""
    meta = dist.metadata
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression, "License-Expression"
    field_value = (meta.get("License") or "").strip()
    if field_value and "\n" not in field_value and len(field_value) < 100:
        legacy = LEGACY_NAMES.get(field_value.lower())
        if legacy:
            return legacy, "License"
        try:
            expression_allowed(field_value)
            return field_value, "License"
        except LicenceError:
            pass
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            legacy = LEGACY_NAMES.get(classifier.split("::")[-1].strip().lower())
            if legacy:
                return legacy, "classifier"
    for _name, text in texts:
        spdx = _from_text(text)
        if spdx:
            return spdx, "licence file"
    if field_value:  # a whole licence text pasted into the License field (scipy's older wheels)
        spdx = _from_text(field_value)
        if spdx:
            return spdx, "License"
    return None, "nothing"


def standard_text(expression: str) -> list[tuple[str, str]]:
    """The full text of the first licence of ``expression`` this repository keeps a copy of."""
    for token in _tokens(expression):
        key = re.sub(r"(-only|-or-later|\+)$", "", token.lower())
        if key in STANDARD_FILE:
            path = (STANDARD_TEXTS / STANDARD_FILE[key]).resolve()
            return [(f"{token} (standard text)", path.read_text(encoding="utf-8"))]
    return []


def review(dist: metadata.Distribution) -> Review:
    """Find, check and collect the licence of one distribution."""
    texts = licence_texts(dist)
    expression, found_in = licence_of(dist, texts)
    if expression is None:
        allowed, reason = False, "no licence found in its metadata or licence files"
    else:
        try:
            allowed, reason = expression_allowed(expression)
        except LicenceError as exc:
            allowed, reason = False, str(exc)
    if expression and not texts:
        texts = standard_text(expression)
    return Review(
        name=dist.metadata["Name"],
        version=dist.version,
        expression=expression,
        found_in=found_in,
        allowed=allowed,
        reason=reason,
        texts=texts,
        native_libraries=native_libraries(dist),
    )


def review_bundle(root: str = "crate-app") -> list[Review]:
    return [review(dist) for dist in bundled_distributions(root)] + review_system_libraries()


# -- native libraries the spec takes from the build machine (no wheel carries them) ------------------
# name -> (file names to look for per platform, the licence upstream declares, what needs it).
# Chromaprint: MIT, with LGPL-2.1-or-later resampling code from FFmpeg and BSD-3-Clause KissFFT.
SYSTEM_LIBRARIES = {
    "chromaprint": (
        {"linux": ("libchromaprint.so.1",), "darwin": ("libchromaprint.1.dylib",),
         "win32": ("chromaprint.dll", "libchromaprint.dll")},
        "MIT AND LGPL-2.1-or-later AND BSD-3-Clause",
        "acoustic fingerprints (pyacoustid's chromaprint module loads it with ctypes)",
    ),
}  # fmt: skip
_DEBIAN_NAMES = {"expat": "MIT", "mit": "MIT", "bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause",
                 "zlib": "Zlib", "isc": "ISC", "apache-2.0": "Apache-2.0", "mpl-2.0": "MPL-2.0"}  # fmt: skip


def find_system_library(name: str) -> Path | None:
    """Where the build machine has library ``name`` of SYSTEM_LIBRARIES (ldconfig's cache on Linux,
    Homebrew's and the usual prefixes on macOS, PATH on Windows), or None."""
    import ctypes.util
    import subprocess

    wanted = SYSTEM_LIBRARIES[name][0].get(sys.platform, ())
    if sys.platform.startswith("linux"):
        try:
            listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
        except OSError:
            listing = ""
        for line in listing.splitlines():
            parts = line.strip().split(" => ")
            if len(parts) == 2 and parts[0].split()[0] in wanted:
                return Path(parts[1])  # by its soname, the name it is loaded by
        return None
    if sys.platform == "darwin":
        folders = [Path("/opt/homebrew/lib"), Path("/usr/local/lib")]
    else:
        import os

        folders = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    for folder in folders:
        for file_name in wanted:
            if (folder / file_name).is_file():
                return folder / file_name
    found = ctypes.util.find_library(name)
    return Path(found) if found and Path(found).is_file() else None


def debian_licence(copyright_text: str) -> str | None:
    """An SPDX expression (``A AND B``) of a Debian machine-readable copyright file's ``Files``
    paragraphs (the Debian packaging's own ``debian/*`` left out); None when a licence has no SPDX
    name here or the file is not machine-readable."""
    if not copyright_text.startswith("Format:"):
        return None
    found: list[str] = []
    for paragraph in re.split(r"\n\s*\n", copyright_text):
        files = re.search(r"^Files:\s*(.+)$", paragraph, re.MULTILINE)
        licence = re.search(r"^License:\s*(\S+)", paragraph, re.MULTILINE)
        if files is None or licence is None or files.group(1).strip() == "debian/*":
            continue
        short = licence.group(1).lower()
        gnu = re.fullmatch(r"(l?gpl)-(\d)(\.\d)?(\+)?", short)
        if gnu is not None:
            version = gnu.group(2) + (gnu.group(3) or ".0")
            spdx = f"{gnu.group(1).upper()}-{version}-{'or-later' if gnu.group(4) else 'only'}"
        elif short in _DEBIAN_NAMES:
            spdx = _DEBIAN_NAMES[short]
        else:
            return None
        if spdx not in found:
            found.append(spdx)
    return " AND ".join(found) or None


def _debian_package(path: Path) -> str | None:
    """The Debian package that installed ``path`` (``dpkg -S``; merged /usr: also as /lib/...)."""
    import subprocess

    for candidate in (str(path), str(path).replace("/usr/lib/", "/lib/", 1)):
        try:
            out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, check=False)
        except OSError:
            return None
        if out.returncode == 0 and ":" in out.stdout:
            return out.stdout.split(":")[0].strip()
    return None


def review_system_library(name: str, path: Path | None) -> Review:
    """The licence review of a SYSTEM_LIBRARIES entry found at ``path``: on Debian and Ubuntu the
    package's copyright file decides (and is the text shipped); elsewhere the licence upstream
    declares, with the standard texts.  A library that is not there is refused (the bundle would
    lack what needs it)."""
    _names, declared, needed_for = SYSTEM_LIBRARIES[name]
    if path is None:
        why = f"not installed on this machine (needed for {needed_for})"
        return Review(f"lib{name} (system)", "", None, "nothing", False, why)
    expression, found_in, texts, version = declared, "upstream's declared licence", [], ""
    package = _debian_package(path.resolve()) if sys.platform.startswith("linux") else None
    if package is not None:
        copyright_file = Path("/usr/share/doc") / package.split(":")[0] / "copyright"
        text = copyright_file.read_text(encoding="utf-8", errors="replace") if copyright_file.exists() else ""
        expression = debian_licence(text)
        found_in, texts = f"Debian package {package} (copyright file)", [(str(copyright_file), text)]
        version = re.sub(r"^.*\.so\.?", "", path.resolve().name)
    if expression is None:
        return Review(name, version, None, found_in, False, "its licence could not be read", texts)
    try:
        allowed, reason = expression_allowed(expression)
    except LicenceError as exc:
        allowed, reason = False, str(exc)
    if not texts:
        texts = standard_text(expression)
    return Review(f"lib{name} (system)", version, expression, found_in, allowed, reason, texts, [path.name])


# Where a build without the library goes on (fingerprints then need fpcalc on the PATH): Windows has
# no package manager the build can count on for Chromaprint's DLL yet.
OPTIONAL_ON = ("win32",)


def review_system_libraries() -> list[Review]:
    """Reviews of the SYSTEM_LIBRARIES the bundle will carry (a missing one is refused, except where
    it is optional: then it is left out of the bundle and of the review)."""
    reviews = []
    for name in SYSTEM_LIBRARIES:
        path = find_system_library(name)
        if path is None and sys.platform in OPTIONAL_ON:
            continue
        reviews.append(review_system_library(name, path))
    return reviews


def refusals(reviews: Iterable[Review]) -> list[str]:
    """One line for each distribution that may not be shipped (empty when all may)."""
    return [
        f"{r.name} {r.version}: {r.expression or 'unknown licence'} ({r.reason})"
        for r in reviews
        if not r.allowed
    ]


def write_notices(reviews: list[Review], target: Path, python_licence: Path | None = None) -> Path:
    """Write the notices file: a summary table, then every licence text in full."""
    rule = "=" * 100
    lines = [
        "Crate is free software: GNU General Public License, version 3 or later (see LICENSE).",
        "This app bundles the third-party software below, each under its own licence.",
        "",
        f"{'distribution':<28} {'version':<18} licence (used: the allowed alternative)",
    ]
    lines += [f"{r.name:<28} {r.version:<18} {r.expression} (used: {r.reason})" for r in reviews]
    lines.append(
        f"{'Python':<28} {sys.version.split()[0]:<18} PSF-2.0 (the interpreter and its standard library)"
    )
    lines.append(f"{'PyInstaller bootloader':<28} {'':<18} GPL-2.0-or-later WITH Bootloader-exception")
    for r in reviews:
        lines += ["", rule, f"{r.name} {r.version} - {r.expression}", rule]
        if r.native_libraries:
            lines.append("Native libraries bundled in its wheel: " + ", ".join(r.native_libraries))
        for name, text in r.texts:
            lines += ["", f"--- {name}", text.rstrip()]
    if python_licence is not None and python_licence.is_file():
        lines += [
            "",
            rule,
            f"Python {sys.version.split()[0]} - PSF-2.0",
            rule,
            python_licence.read_text().rstrip(),
        ]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def python_licence_file() -> Path | None:
    """The interpreter's own LICENSE.txt (lib/pythonX.Y/LICENSE.txt, or LICENSE.txt on Windows)."""
    base = Path(sys.base_prefix)
    for candidate in (base / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "LICENSE.txt",
                      base / "LICENSE.txt"):  # fmt: skip
        if candidate.is_file():
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Review the licences of what Crate's bundle ships.")
    parser.add_argument("--notices", type=Path, help="also write the notices file here")
    args = parser.parse_args(argv)
    reviews = review_bundle()
    for r in reviews:
        print(f"{'ok ' if r.allowed else 'NO '} {r.name:<24} {r.version:<14} {r.expression}  [{r.found_in}]")
    if args.notices:
        write_notices(reviews, args.notices, python_licence_file())
    refused = refusals(reviews)
    for line in refused:
        print(f"cannot ship: {line}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
