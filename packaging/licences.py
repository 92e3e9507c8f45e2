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
    "gpl-2.0-or-later", "gpl-3.0-only", "gpl-3.0-or-later", "licenseref-public-domain",
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
    waiver: str = ""  # refused, but let through for now (WAIVED): why


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


# -- shared libraries PyInstaller collected from the build machine as dependencies ----------------------
# Qt's xcb platform, libsndfile and libchromaprint pull in a hundred system libraries (X11, FLAC, FFmpeg
# and its codecs, GLib, ...).  PyInstaller's table of contents lists where each came from; on Debian and
# Ubuntu, ``dpkg -S`` names the package that installed it and the package's copyright file says which
# licences its source files are under.  Every licence found there must allow shipping inside a
# GPL-3.0-or-later program, except those the review below found apply only to files the shipped
# library is not built from (programs, scripts, documentation of the same source package).

# Debian short licence names (lower case, without a "with ... exception") Crate can ship.
DEBIAN_ALLOWED = re.compile(
    # GNU licences but GPL-2-only, then permissive ones
    r"(l?gpl(-[123](\.[01])?)?\+?|gpl-3(\.0)?|lgpl-2(\.[01])?|lgpl-3(\.0)?|gpl-1\+|"
    r"(0|free)?bsd(-[123](-clause)?)?([-_ ].*)?|expat|mit([-/ ].*)?|x11|isc([-_ ].*)?|zlib([-/ ].*)?|"
    r"libpng.*|libtiff.*|ijg|ntp|public[-_ ]?domain.*|(probably-)?pd|.*-pd|cc0.*|cc-zero.*|unicode.*|icu|"
    r"apache-2(\.0)?|mpl-2\.0|bsl(-1\.0)?|boost-1\.0|unlicense|beerware|tcl|fsf.*|permissive.*|.*-permissive|"
    r"autoconf|artistic(-2\.0)?|curl|openldap|hpnd.*|sgi-b-2\.0|ftl|ofl-1\.1|bitstream-vera|ufl-1\.0|"
    r"gfdl.*|cc-by(-sa)?-[34]\.0|man-page|latex2e|rfc.*|none|noderivs)"
)  # fonts, documentation and licence texts (OFL, GFDL, CC-BY, RFCs, "noderivs") are not linked into code
# Debian short names that cannot be shipped in a GPL-3.0-or-later program, and why.
DEBIAN_REFUSED = {
    "gpl-2": "GPL-2.0-only cannot be combined with GPL-3.0 code",
    "gpl-2.0": "GPL-2.0-only cannot be combined with GPL-3.0 code",
    "agpl": "AGPL adds network-use obligations Crate does not take on",
    "bsd-4": "the advertising clause of 4-clause BSD is incompatible with the GPL",
    "openssl": "the OpenSSL licence is incompatible with the GPL",
    "ssleay": "the SSLeay licence is incompatible with the GPL",
    "mpl-1": "MPL-1.x alone is incompatible with the GPL",
    "apache-1": "Apache-1.x is incompatible with the GPL",
    "cddl": "the CDDL is incompatible with the GPL",
    "epl": "the EPL is incompatible with the GPL",
    "non-free": "not free software",
    "nonfree": "not free software",
}
# Words in a licence's own text that make an otherwise permissive-looking custom licence unshippable.
_RESTRICTIVE = ("advertising materials", "commercial use", "non-commercial", "noncommercial", "affero")
_PERMISSIVE = (
    "permission is hereby granted", "permission to use, copy, modify", "redistribution and use in source",
    "public domain", "unrestricted use", "you can do whatever you want", "without restriction",
    "you are allowed to use this source code", "gives unlimited permission", "is free software",
    "freely redistributable", "permission is granted to freely", "any use of this software is permitted",
    "redistribution and use of the software in source",
)  # fmt: skip
# Review of licences in copyright files that do not reach the shipped library: Debian source package
# -> {short name: which files it covers}.  A licence not named here still fails the check.
DEBIAN_NOT_SHIPPED = {
    "util-linux": {
        "gpl-2": "programs (ionice, chrt, taskset, raw, nsenter, mkfs.minix, mkswap); libblkid and "
        "libmount are LGPL-2.1+, libuuid BSD-3-Clause",
        "bsd-4-clause": "programs in login-utils, misc-utils, term-utils and text-utils",
        "bsla": "login-utils/login.c, a program",
    },
    "xz-utils": {"gpl-2": "Doxyfile.in, the configuration of the documentation build"},
    "e2fsprogs": {"gpl-2": "the default for e2fsprogs' programs and libext2fs parts; libcom_err (lib/et) is "
                  "under MIT's permissive licence (e2fsprogs' NOTICE), which Debian's file does not list"},
    "systemd": {"gpl-2": "src/basic/linux, src/shared/linux: Linux kernel headers under the syscall note "
                "(using them does not make a program a derived work); libsystemd is LGPL-2.1+"},
    "libbsd": {"bsd-4-clause-niels-provos": "man/arc4random.3bsd, a manual page"},
    "harfbuzz": {"monotype": "test/api/fonts, fonts of the test suite"},
}  # fmt: skip
# Known refusals the build lets through for now, loudly (printed, and marked in the notices): Debian
# source package -> why it is there and what removes it.  Everything else that is refused fails it.
WAIVED = {
    "zvbi": "libzvbi0 has GPL-2.0-only files (src/packet-830.c, src/pdc.c, part of the library): Debian's "
    "FFmpeg 5 (libavcodec59) links it, and libchromaprint1 links FFmpeg.  Removing it needs Chromaprint "
    "built without FFmpeg (KissFFT) or another build of FFmpeg; reported to the lead (issue 15).",
}
# Debian packages whose copyright file is not machine-readable, reviewed by hand: source package
# (regular expression) -> (SPDX expression, words its copyright file must contain: a regular expression).
DEBIAN_PLAIN = {
    r"glibc": ("LGPL-2.1-or-later", "GNU Lesser General Public License"),
    r"cairo": ("LGPL-2.1-only OR MPL-1.1", "GNU Lesser General Public"),
    r"gcc-\d+": ("GPL-3.0-or-later WITH GCC-exception-3.1", "GCC RUNTIME LIBRARY EXCEPTION"),
    r"libgcrypt\d+": ("LGPL-2.1-or-later", "GNU Lesser General Public License"),
    r"krb5": ("MIT", "Massachusetts Institute of Technology"),
    r"fontconfig": ("HPND", "Permission to use, copy, modify, distribute, and sell"),
    r"numactl": ("LGPL-2.1-only", "LGPL"),
    r"pixman": ("MIT", "Permission is hereby granted"),
    r"libselinux": ("LicenseRef-public-domain", "public domain"),
    r"libwebp": ("BSD-3-Clause", "Redistribution and use in source and binary forms"),
    r"libdrm": ("MIT", "Permission is hereby granted"),
    r"libx11|libxau|libxcb|libxdmcp|libxext|libxfixes|libxrandr|libxrender|libxkbcommon": (
        "MIT", r"Permission (is hereby granted|to use, copy, modify)"),
}  # fmt: skip


def collected_binaries(toc: Path) -> list[tuple[str, Path]]:
    """(name in the bundle, source) of the shared libraries in PyInstaller's table of contents
    (``COLLECT-00.toc`` in its work folder) that came from outside this Python installation: those in
    site-packages come with a distribution reviewed above, and the interpreter's own are Python's."""
    import ast

    try:
        entries = ast.literal_eval(toc.read_text(encoding="utf-8"))[0]
    except (OSError, ValueError, SyntaxError, IndexError) as exc:
        raise LicenceError(f"cannot read PyInstaller's table of contents {toc}: {exc}") from exc
    ours = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    found = []
    for name, source, kind in entries:
        if kind not in ("BINARY", "EXTENSION") or not source:
            continue
        path = Path(source)
        if not any(path.is_relative_to(root) or path.resolve().is_relative_to(root) for root in ours):
            found.append((name, path))
    return sorted(found)


def _dpkg_owners(paths: Iterable[Path]) -> dict[Path, str]:
    """The package that installed each path (one ``dpkg -S`` for all; merged /usr: also as /lib)."""
    import subprocess

    wanted: dict[str, Path] = {}
    for path in paths:
        for candidate in (str(path), str(path).replace("/usr/lib/", "/lib/", 1),
                          str(path).replace("/lib/", "/usr/lib/", 1)):  # fmt: skip
            wanted.setdefault(candidate, path)
    try:
        out = subprocess.run(["dpkg", "-S", *wanted], capture_output=True, text=True, check=False).stdout
    except OSError:
        return {}
    owners: dict[Path, str] = {}
    for line in out.splitlines():
        package, _, where = line.partition(": ")
        if where.strip() in wanted and "diversion" not in package:
            owners.setdefault(wanted[where.strip()], package.split(",")[0].strip())
    return owners


def _dpkg_sources(packages: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Binary package -> (its source package, its version) (``dpkg-query``, one call)."""
    import subprocess

    names = sorted(set(packages))
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${binary:Package} ${source:Package} ${Version}\n", *names],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
    except OSError:
        return {}
    sources = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            sources[parts[0]] = sources[parts[0].split(":")[0]] = (parts[1], parts[2])
    return sources


def _licence_definitions(text: str) -> dict[str, str]:
    """Stand-alone ``License:`` paragraphs of a machine-readable copyright file: short name -> text."""
    definitions = {}
    for paragraph in re.split(r"\n\s*\n", text):
        match = re.match(r"License:\s*(\S[^\n]*)\n(.*)", paragraph.strip(), re.DOTALL)
        if match and not re.search(r"^Files:", paragraph, re.MULTILINE):
            definitions[match.group(1).strip().lower()] = match.group(2)
    return definitions


def debian_term_verdict(term: str, definition: str = "") -> tuple[bool | None, str]:
    """Whether one Debian licence short name may be shipped (None: unknown), and why not."""
    name = re.sub(r"\s+with\s+.*exception$", "", term.strip().lower())  # exceptions add permissions
    name = name.strip(" .")
    refused = next(
        (
            why
            for key, why in DEBIAN_REFUSED.items()
            if name == key or name.startswith((key + "-", key + " "))
        ),
        None,
    )
    if name in ("gpl-2", "gpl-2.0") or (refused and not name.startswith(("gpl-2+", "gpl-2.0+"))):
        return False, f"{term}: {refused}"
    if DEBIAN_ALLOWED.fullmatch(name):
        return True, term
    words = " ".join(definition.split()).lower()
    if words and any(p in words for p in _PERMISSIVE) and not any(r in words for r in _RESTRICTIVE):
        return True, f"{term} (a permissive licence, by its text)"
    return (
        None,
        f"{term}: unknown to this check (add it to licences.DEBIAN_ALLOWED if it may be shipped)",
    )


def debian_package_verdict(source: str, text: str) -> tuple[bool, str, list[str]]:
    """(allowed, reason, the licences found) of a Debian package from its copyright file."""
    if not text.startswith("Format:"):
        for pattern, (expression, phrase) in DEBIAN_PLAIN.items():
            if re.fullmatch(pattern, source):
                if not re.search(phrase, " ".join(text.split()), re.IGNORECASE):
                    return False, f"its copyright file no longer says {phrase!r}: review it again", []
                allowed, why = expression_allowed(expression)
                return allowed, f"{why} (reviewed: the copyright file is not machine-readable)", [expression]
        return False, (f"its copyright file is not machine-readable and source package {source} is not in "
                       "licences.DEBIAN_PLAIN: review it"), []  # fmt: skip
    definitions = _licence_definitions(text)
    excused = DEBIAN_NOT_SHIPPED.get(source, {})
    found: list[str] = []
    problems: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:\s*(.+)$", paragraph, re.MULTILINE)
        licence = re.search(r"^License:\s*(.+)$", paragraph, re.MULTILINE)
        if files is None or licence is None or files.group(1).strip().startswith("debian/"):
            continue
        expression = licence.group(1).strip()
        inline = paragraph[licence.end() :]
        if expression not in found:
            found.append(expression)
        # "A or B": one side suffices; "A and B" / "A, and B": every term of that side.
        sides = re.split(r"\s+or\s+", re.sub(r",?\s+and\s+|,\s*", " and ", expression), flags=re.IGNORECASE)
        verdicts = []
        for side in sides:
            terms = [t for t in re.split(r"\s+and\s+", side, flags=re.IGNORECASE) if t.strip()]
            results = [
                debian_term_verdict(t, definitions.get(t.strip().lower(), "") or inline) for t in terms
            ]
            verdicts.append(results)
        if any(all(ok for ok, _why in results) for results in verdicts):
            continue
        for results in verdicts[:1] if len(verdicts) == 1 else verdicts:
            for ok, why in results:
                key = re.sub(r"\s+with\s+.*$", "", why.split(":")[0].strip().lower())
                if not ok and key not in excused:
                    problems.append(f"{why} (Files: {files.group(1).strip()[:60]})")
    if problems:
        return False, "; ".join(dict.fromkeys(problems)), found
    note = "; ".join(f"{k} only in {v}" for k, v in excused.items() if any(k in f.lower() for f in found))
    return True, "all its licences allow it" + (f" ({note})" if note else ""), found


def review_collected_libraries(toc: Path, already: Iterable[str] = ()) -> list[Review]:
    """One review per Debian package of the shared libraries PyInstaller collected from the build
    machine (``already``: packages reviewed elsewhere, left out).  A library no package installed is
    refused.  Only Linux with dpkg is checked: elsewhere the list is empty (build.py says so)."""
    import shutil

    binaries = collected_binaries(toc)
    if not binaries or not sys.platform.startswith("linux") or shutil.which("dpkg") is None:
        return []  # no package database to ask: build.py says so
    owners = _dpkg_owners(p for _name, p in binaries)
    sources = _dpkg_sources(owners.values())
    by_package: dict[str, list[str]] = {}
    reviews = []
    for name, path in binaries:
        package = owners.get(path)
        if package is None:
            why = f"{path} belongs to no Debian package: its licence is unknown"
            reviews.append(Review(f"{name} (system)", "", None, "nothing", False, why))
        elif package.split(":")[0] not in set(already):
            by_package.setdefault(package, []).append(name)
    for package, names in sorted(by_package.items()):
        plain = package.split(":")[0]
        copyright_file = Path("/usr/share/doc") / plain / "copyright"
        text = copyright_file.read_text(encoding="utf-8", errors="replace") if copyright_file.exists() else ""
        source, version = sources.get(package) or sources.get(plain) or (plain, "")
        allowed, reason, found = debian_package_verdict(source, text)
        expression = " AND ".join(f"({f})" if " or " in f.lower() else f for f in found) or None
        reviews.append(
            Review(f"{plain} (Debian)", version, expression, f"Debian package {package} (copyright file)",
                   allowed, reason, [(str(copyright_file), text)] if text else [], sorted(names),
                   "" if allowed else WAIVED.get(source, ""))
        )  # fmt: skip
    return reviews


def refusals(reviews: Iterable[Review]) -> list[str]:
    """One line for each distribution that may not be shipped (empty when all may); waived ones aside."""
    return [
        f"{r.name} {r.version}: {r.expression or 'unknown licence'} ({r.reason})"
        for r in reviews
        if not r.allowed and not r.waiver
    ]


def waivers(reviews: Iterable[Review]) -> list[str]:
    """One line for each refused package the build lets through for now (WAIVED), with why."""
    return [f"{r.name} {r.version}: {r.reason} -- WAIVED: {r.waiver}" for r in reviews if r.waiver]


def write_notices(reviews: list[Review], target: Path, python_licence: Path | None = None) -> Path:
    """Write the notices file: a summary table, then every licence text in full."""
    rule = "=" * 100
    lines = [
        "Crate is free software: GNU General Public License, version 3 or later (see LICENSE).",
        "This app bundles the third-party software below, each under its own licence.",
        "",
        f"{'distribution':<28} {'version':<18} licence (used: the allowed alternative)",
    ]
    lines += [
        f"{r.name:<28} {r.version:<18} {r.expression} "
        + (f"(NOT ALLOWED, WAIVED FOR NOW: {r.reason})" if r.waiver else f"(used: {r.reason})")
        for r in reviews
    ]
    lines.append(
        f"{'Python':<28} {sys.version.split()[0]:<18} PSF-2.0 (the interpreter and its standard library)"
    )
    lines.append(f"{'PyInstaller bootloader':<28} {'':<18} GPL-2.0-or-later WITH Bootloader-exception")
    written: dict[str, str] = {}  # a text several packages share (FFmpeg's libraries) is written once
    for r in reviews:
        lines += ["", rule, f"{r.name} {r.version} - {r.expression}", rule]
        if r.native_libraries:
            lines.append("Native libraries bundled: " + ", ".join(r.native_libraries))
        for name, text in r.texts:
            if text in written:
                lines += ["", f"--- {name}: the same text as {written[text]} above"]
                continue
            written[text] = f"{r.name} ({name})"
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
    for line in waivers(reviews):
        print(f"WAIVED, cannot ship in the end: {line}", file=sys.stderr)
    for line in refused:
        print(f"cannot ship: {line}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
