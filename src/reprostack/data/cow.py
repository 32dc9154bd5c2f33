"""Copy-on-write placement of a file: a reflink where the filesystem can, a copy otherwise.

Snapshots and the model store must never share an inode with a file a user may write: a hard
link aliases the bytes, so `cp new.csv data/raw/texts.csv` run as root (mode bits do not stop
root) rewrites the "immutable" snapshot too. A reflink (btrfs, XFS, APFS, ...) shares the disk
blocks but not the inode: a later write to either side copies the block first. This is DVC's
own default cache type (`reflink,copy`), and we use DVC's reflink call. Hard links remain an
explicit opt-in (`data.link: hardlink`) for users who accept the aliasing to save disk.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MODES = ("copy", "hardlink")  # copy = reflink where supported, else a byte copy


def place(src: str | Path, dst: str | Path, mode: str = "copy") -> str:
    """Put src's bytes at dst (which must not exist); return how: reflink, copy or hardlink.

    PermissionError on reading src propagates; any other link failure falls back to a copy."""
    if mode not in MODES:
        raise ValueError(f"unknown placement mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "hardlink":
        try:
            os.link(src, dst)
            return "hardlink"
        except PermissionError:
            raise
        except OSError:
            pass  # another filesystem, or links unsupported: fall back
    from dvc_objects.fs import system  # DVC's reflink: FICLONE on Linux, clonefile on macOS

    try:
        system.reflink(os.fspath(src), os.fspath(dst))
        return "reflink"
    except OSError:
        pass  # ext4, tmpfs, across filesystems: no reflinks
    shutil.copyfile(src, dst)
    return "copy"
