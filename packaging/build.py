"""Build Crate's app bundle and installer for the OS this runs on.

    python packaging/build.py [--skip-installer] [--smoke]

1. PyInstaller (``packaging/crate.spec``) makes the one-folder app in ``dist/``: ``dist/crate/``
   (Linux, Windows) or ``dist/Crate.app`` (macOS).
2. The installer, unless ``--skip-installer``: Linux ``dist/crate-<version>-linux-<arch>.tar.gz`` and
   ``dist/crate_<version>_<arch>.deb`` (dpkg-deb); Windows ``dist/Crate-<version>-setup.exe`` (Inno
   Setup's ``iscc``); macOS ``dist/Crate-<version>.dmg`` (``packaging/macos/make_dmg.sh``, hdiutil).
3. With ``--smoke``: runs the built app's ``--self-test`` offscreen twice (a first and a second launch)
   and fails unless both report ``"ok": true``, then once on Xvfb with Qt's xcb platform (Linux).

Before building, the licence of every distribution the app bundles is checked against what a
GPL-3.0-or-later program may ship (``packaging/licences.py``): an unknown or incompatible one fails the
build; after PyInstaller, so are the shared libraries it took from the build machine (on Linux, by
their Debian packages' copyright files).  The bundle gets ``LICENSE`` and ``THIRD-PARTY-NOTICES.txt``
(every bundled licence in full).
After building, a symbolic link in the bundle that points nowhere fails the build.

Run it with the Python that has Crate and PyInstaller installed (``pip install .[packaging]``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import licences  # packaging/licences.py (this script's folder is first on sys.path)

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
RESOURCES = ROOT / "resources"
SELF_TEST_TIMEOUT = 300  # seconds (a slow machine's first launch, with a cold disk cache)


def say(message: str) -> None:
    print(f"build: {message}", flush=True)


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from crate_app import __version__

    return __version__


def folder_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def megabytes(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def run_pyinstaller() -> Path:
    """Build the one-folder app; return the folder holding the executable."""
    subprocess.run(
        [
            sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level=WARN",
            "--distpath", str(DIST), "--workpath", str(WORK), str(PACKAGING / "crate.spec"),
        ],
        check=True,
        cwd=ROOT,
    )  # fmt: skip
    if sys.platform == "darwin":
        return DIST / "Crate.app" / "Contents" / "MacOS"
    return DIST / "crate"


def executable(app_folder: Path) -> Path:
    return app_folder / ("crate.exe" if sys.platform == "win32" else "crate")


def dangling_symlinks(bundle: Path) -> list[Path]:
    """Symbolic links in the bundle whose target does not exist (in the bundle or at all)."""
    return sorted(p for p in bundle.rglob("*") if p.is_symlink() and not p.exists())


def check_symlinks(bundle: Path) -> None:
    dangling = dangling_symlinks(bundle)
    if dangling:
        listing = "\n  ".join(f"{p.relative_to(bundle)} -> {os.readlink(p)}" for p in dangling)
        raise SystemExit(f"build: {len(dangling)} dangling symbolic links in {bundle}:\n  {listing}")
    say(f"symbolic links: none dangling in {bundle.name}")


def check_licences() -> list[licences.Review]:
    """Review the licences of every bundled distribution; stop the build on one Crate cannot ship."""
    reviews = licences.review_bundle("crate-app")
    refused = licences.refusals(reviews)
    if refused:
        raise SystemExit("build: cannot ship these under GPL-3.0-or-later:\n  " + "\n  ".join(refused))
    say(f"licences: {len(reviews)} bundled distributions, all allowed in a GPL-3.0-or-later app")
    return reviews


def check_collected_libraries(reviews: list[licences.Review]) -> list[licences.Review]:
    """Review the shared libraries PyInstaller took from the build machine (X11, FLAC, FFmpeg, ...) by
    their Debian packages' copyright files; stop the build on one Crate cannot ship (waived ones are
    printed, loudly)."""
    toc = WORK / "crate" / "COLLECT-00.toc"
    already = [
        r.found_in.split()[2].split(":")[0] for r in reviews if r.found_in.startswith("Debian package")
    ]
    collected = licences.review_collected_libraries(toc, already)
    refused = licences.refusals(collected)
    if refused:
        raise SystemExit("build: cannot ship these under GPL-3.0-or-later:\n  " + "\n  ".join(refused))
    for line in licences.waivers(collected):
        say(f"licences: WAIVED FOR NOW, NOT ALLOWED: {line}")
    if not collected:
        count = len(licences.collected_binaries(toc))
        say(f"licences: {count} libraries taken from this machine are not checked here (only Linux, dpkg)")
    else:
        libraries = sum(len(r.native_libraries) for r in collected)
        say(f"licences: {libraries} libraries from {len(collected)} Debian packages, allowed but the waived")
    return collected


def write_licences(reviews: list[licences.Review], app_folder: Path) -> Path:
    """LICENSE and THIRD-PARTY-NOTICES.txt next to the executable (macOS: in Contents/Resources)."""
    target = app_folder.parent / "Resources" if sys.platform == "darwin" else app_folder
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "LICENSE", target / "LICENSE")
    notices = licences.write_notices(
        reviews, target / "THIRD-PARTY-NOTICES.txt", licences.python_licence_file()
    )
    say(f"licences: wrote {notices} ({megabytes(notices.stat().st_size)})")
    return notices


def deb_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def linux_tarball(bundle: Path, ver: str) -> Path:
    """``crate-<version>-linux-<arch>/`` with the app, the .desktop file and the icons."""
    target = DIST / f"crate-{ver}-linux-{platform.machine().lower()}.tar.gz"
    top = target.name.removesuffix(".tar.gz")
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=f"{top}/crate")
        archive.add(RESOURCES / "crate.desktop", arcname=f"{top}/crate.desktop")
        archive.add(RESOURCES / "icons" / "crate-256.png", arcname=f"{top}/crate.png")
    return target


def glibc_needed(bundle: Path) -> str:
    """The newest glibc symbol version any ELF file of the bundle asks for, e.g. "2.36"."""
    pattern = re.compile(rb"GLIBC_2\.(\d+)(?:\.(\d+))?\x00")
    newest = (17, 0)  # (minor, patch) of 2.x
    for path in bundle.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as file:
            if file.read(4) != b"\x7fELF":
                continue
            for match in pattern.finditer(file.read()):
                newest = max(newest, (int(match.group(1)), int(match.group(2) or 0)))
    minor, patch = newest
    return f"2.{minor}.{patch}" if patch else f"2.{minor}"


def linux_deb(bundle: Path, ver: str) -> Path:
    """A .deb installing the app into /opt/crate, /usr/bin/crate, the menu entry and the icons."""
    arch = deb_arch()
    target = DIST / f"crate_{ver}_{arch}.deb"
    root = WORK.parent / "deb"
    shutil.rmtree(root, ignore_errors=True)
    try:
        # Hard links: the staging tree costs neither time nor space.
        shutil.copytree(bundle, root / "opt" / "crate", symlinks=True, copy_function=os.link)
        (root / "usr" / "bin").mkdir(parents=True)
        (root / "usr" / "bin" / "crate").symlink_to("/opt/crate/crate")
        share = root / "usr" / "share"
        (share / "applications").mkdir(parents=True)
        shutil.copy2(RESOURCES / "crate.desktop", share / "applications" / "crate.desktop")
        for png in sorted((RESOURCES / "icons").glob("crate-*.png")):
            size = png.stem.split("-")[1]
            icon_dir = share / "icons" / "hicolor" / f"{size}x{size}" / "apps"
            icon_dir.mkdir(parents=True)
            shutil.copy2(png, icon_dir / "crate.png")
        (share / "icons" / "hicolor" / "scalable" / "apps").mkdir(parents=True)
        shutil.copy2(RESOURCES / "crate.svg", share / "icons" / "hicolor" / "scalable" / "apps" / "crate.svg")
        template = (PACKAGING / "linux" / "control.in").read_text(encoding="utf-8")
        control = template.format(
            version=ver, arch=arch, installed_size=folder_size(root) // 1024 + 1, glibc=glibc_needed(bundle)
        )
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN" / "control").write_text(control, encoding="utf-8")
        for script in ("postinst", "postrm"):
            shutil.copy2(PACKAGING / "linux" / script, root / "DEBIAN" / script)
            (root / "DEBIAN" / script).chmod(0o755)
        for path in root.rglob("*"):  # dpkg wants no group/other-writable files
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & 0o755)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(root), str(target)], check=True
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return target


def windows_installer(ver: str) -> Path | None:
    """Compile packaging/windows/crate.iss with Inno Setup's iscc (when it is installed)."""
    iscc = shutil.which("iscc") or shutil.which("ISCC")
    programs = os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")
    default = Path(programs) / "Inno Setup 6" / "ISCC.exe"
    if iscc is None and default.exists():
        iscc = str(default)
    if iscc is None:
        say("Inno Setup (iscc) not found: skipping the installer (choco install innosetup)")
        return None
    script = PACKAGING / "windows" / "crate.iss"
    subprocess.run([iscc, f"/DAppVersion={ver}", f"/DRoot={ROOT}", f"/O{DIST}", str(script)], check=True)
    return DIST / f"Crate-{ver}-setup.exe"


def macos_dmg(ver: str) -> Path:
    target = DIST / f"Crate-{ver}.dmg"
    subprocess.run(
        ["bash", str(PACKAGING / "macos" / "make_dmg.sh"), str(DIST / "Crate.app"), str(target)], check=True
    )
    return target


def self_test(program: Path, extra_env: dict[str, str] | None = None) -> tuple[dict[str, object], float]:
    """Run ``program --self-test`` offscreen (or as ``extra_env`` says); return its JSON report and the
    wall time."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen") | (extra_env or {})
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [str(program), "--self-test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=SELF_TEST_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        message = f"build: self-test did not finish in {SELF_TEST_TIMEOUT} s\n{exc.stderr or ''}"
        raise SystemExit(message) from exc
    seconds = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        report = {"ok": False}
    if done.returncode != 0 or report.get("ok") is not True:
        raise SystemExit(
            f"build: SELF-TEST FAILED (exit code {done.returncode})\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return report, seconds


def smoke(program: Path) -> None:
    """Self-test the built app twice: a first launch and a second one."""
    for launch in ("first", "second"):
        report, seconds = self_test(program)
        say(f"self-test ({launch} launch): {seconds:.1f} s  {json.dumps(report)}")
    if sys.platform == "linux":
        xcb_self_test(program)


def xcb_self_test(program: Path) -> None:
    """The built app's self-test once more on a real X server (Xvfb) with Qt's xcb platform: the one
    run that needs the system's xcb libraries.  Without Xvfb: a note, or in CI (CI=true) a failure."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        if os.environ.get("CI", "").lower() == "true":
            raise SystemExit("build: Xvfb is missing: CI must start the built app on a real X server")
        say("Xvfb not installed: the built app was not started on a real X server (apt-get install xvfb)")
        return
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as announced:
            display = announced.readline().strip()
        if not display:
            raise SystemExit("build: Xvfb did not start")
        report, seconds = self_test(program, {"QT_QPA_PLATFORM": "xcb", "DISPLAY": f":{display}"})
        if report.get("platform") != "xcb":
            raise SystemExit(f"build: the xcb self-test ran on {report.get('platform')!r}, not xcb")
        say(f"self-test on Xvfb with QT_QPA_PLATFORM=xcb: {seconds:.1f} s  {json.dumps(report)}")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-installer", action="store_true", help="only build the app bundle")
    parser.add_argument("--smoke", action="store_true", help="self-test the built app (offscreen)")
    args = parser.parse_args(argv)
    if sys.platform not in ("linux", "win32", "darwin"):
        raise SystemExit(f"build: unsupported platform {sys.platform}")
    ver = version()
    started = time.perf_counter()
    reviews = check_licences()
    say(f"PyInstaller one-folder build of Crate {ver} for {sys.platform}")
    app_folder = run_pyinstaller()
    bundle = DIST / ("Crate.app" if sys.platform == "darwin" else "crate")
    reviews += check_collected_libraries(reviews)
    write_licences(reviews, app_folder)
    check_symlinks(bundle)
    say(f"app bundle: {bundle} ({megabytes(folder_size(bundle))}) in {time.perf_counter() - started:.0f} s")
    if not args.skip_installer:
        made: list[Path | None] = []
        if sys.platform == "linux":
            made = [linux_tarball(bundle, ver)]
            if shutil.which("dpkg-deb"):
                made.append(linux_deb(bundle, ver))
            else:
                say("dpkg-deb not found: skipping the .deb (apt install dpkg)")
        elif sys.platform == "win32":
            made = [windows_installer(ver)]
        else:
            made = [macos_dmg(ver)]
        for path in filter(None, made):
            say(f"installer: {path} ({megabytes(path.stat().st_size)})")
    if args.smoke:
        smoke(executable(app_folder))
    say(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
