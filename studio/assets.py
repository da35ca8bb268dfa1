"""Content-addressed media store of a project: media/<sha256><ext>.

Files are copied in under their SHA-256 (identical imports are stored once), never
modified afterwards, and written atomically (temp file + os.replace), so a crash leaves
either no file or a complete one. Validation happens BEFORE anything is written: the
caller decodes/analyses the source file first and only then stores it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

from core.errors import InputError
from core.fsutil import atomic_path, check_input_file

_EXT_RE = re.compile(r"^\.[a-z0-9]{1,10}$")


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    return h.hexdigest()


def clean_ext(path: Path) -> str:
    ext = path.suffix.lower()
    return ext if _EXT_RE.match(ext) else ""


def media_name(sha: str, ext: str) -> str:
    return f"{sha}{ext}"


def check_source(path: str | Path, what: str = "a media file") -> Path:
    """The import source as a Path; InputError unless it is a regular file (a FIFO or a
    device would make hashing block or never end)."""
    return check_input_file(path, what)


def store(src: Path, media_dir: Path, sha: str, ext: str) -> tuple[Path, bool]:
    """Copy `src` into media/ as <sha><ext>. Returns (stored path, created_now). The copy
    is re-hashed, so a file changed while importing is refused instead of mis-stored."""
    media_dir.mkdir(parents=True, exist_ok=True)
    dest = media_dir / media_name(sha, ext)
    if dest.exists():
        return dest, False
    with atomic_path(dest, suffix=".part", mode=0o444) as tmp:  # media are never modified
        shutil.copyfile(src, tmp)
        if sha256_of(tmp) != sha:
            raise InputError(src, "changed while it was being imported; try again")
    return dest, True


def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, 0o644)
        path.unlink()
