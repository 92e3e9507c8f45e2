"""Walking library folders: iterative, safe against symbolic-link loops, hidden folders skipped.

``walk_audio`` yields one ``FolderListing`` per folder with the audio files in it and their stat
(taken once, from ``os.scandir``), so that an incremental rescan needs no further system call for
files that did not change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from crate_app.library.tags import os_error_reason


@dataclass(slots=True)
class FolderListing:
    """The audio files of one folder: ``files`` as (path, size, mtime); problems as (path, reason)."""

    folder: str
    files: list[tuple[str, int, float]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    unreadable: bool = False  # the folder itself could not be listed


def has_extension(name: str, extensions: Collection[str]) -> bool:
    """Whether ``name`` ends with one of ``extensions`` (lower-case, with their dot), ignoring case."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in extensions


def folder_error_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "the folder does not exist (was the drive disconnected?)"
    if isinstance(exc, PermissionError):
        return "permission denied: the folder cannot be read"
    if isinstance(exc, NotADirectoryError):
        return "not a folder"
    return os_error_reason(exc).replace("the file", "the folder")


def walk_audio(
    root: str,
    extensions: Collection[str],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[FolderListing]:
    """Yield the audio files below ``root``, folder by folder (depth first, no recursion).

    Symbolic links to folders are followed, but every folder is visited once (by device and inode),
    so link loops and links back up the tree end.  ``should_stop`` is checked before each folder.
    """
    visited: set[tuple[int, int]] = set()
    try:
        info = os.stat(root)
        visited.add((info.st_dev, info.st_ino))
    except OSError as exc:
        yield FolderListing(root, errors=[(root, folder_error_reason(exc))], unreadable=True)
        return
    stack = [root]
    while stack:
        if should_stop is not None and should_stop():
            return
        folder = stack.pop()
        listing = FolderListing(folder)
        files = listing.files
        subfolders: list[str] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:  # the hot loop of a rescan (has_extension inlined)
                    name = entry.name
                    if name[0] == ".":  # dot-files and dot-folders, macOS '._x.mp3' forks: never music
                        continue
                    try:
                        if entry.is_dir():
                            info = entry.stat()
                            identity = (info.st_dev, info.st_ino)
                            if identity not in visited:
                                visited.add(identity)
                                subfolders.append(entry.path)
                        elif (dot := name.rfind(".")) > 0 and name[dot:].lower() in extensions:
                            info = entry.stat()
                            files.append((entry.path, info.st_size, info.st_mtime))
                    except FileNotFoundError:
                        if entry.is_symlink():
                            listing.errors.append((entry.path, "the link points to nothing (broken link)"))
                    except OSError as exc:
                        if entry.is_dir(follow_symlinks=False) or not has_extension(name, extensions):
                            listing.errors.append((entry.path, folder_error_reason(exc)))
                        else:
                            listing.errors.append((entry.path, os_error_reason(exc)))
        except OSError as exc:
            listing.errors.append((folder, folder_error_reason(exc)))
            listing.unreadable = True
        subfolders.sort(reverse=True)  # popped in name order
        stack.extend(subfolders)
        yield listing
