"""The one place that turns database rows into file paths, and refuses rows that would
point anywhere but the project's own media/ and renders/ files.

Why: a project.db is user input like any other file (it arrives in bundles, shared
folders, copies from other people). Its `portraits.sha256` / `ext`, `audio_tracks.sha256`
/ `ext` and `renders.file` columns used to be joined into paths unchecked, so a crafted row
such as sha256='../../../../tmp/victim' made `asset remove` chmod and delete that file, and
an absolute `renders.file` was deleted by `remove_timeline`. Every path built from a row now
comes from here:

- a media file is exactly media/<64 lowercase hex><ext>, where ext is what
  `studio.assets.clean_ext` can produce on import ("" or "." + 1-10 of [a-z0-9]; this is
  the rule import applies, so every legitimately imported file passes, whatever its kind);
- a render file is exactly renders/<64 lowercase hex>.mp4 (the spec hash, see
  `studio.specs.spec_hash`, which is what `Project.render_plan` writes);
- the path must resolve, after symlinks, inside the project folder (a symlink in media/ or
  renders/, or a symlinked media/ folder, pointing elsewhere is refused).

A refused row raises `UnsafeRowError` (an InputError: the CLI prints one line and exits 2)
naming the project, the table and the row id. The exports/ folder holds no database rows
(export paths come from the user or from a sanitised timeline name), so nothing here.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from core.errors import InputError

SHA256_RE = re.compile(r"[0-9a-f]{64}")
EXT_RE = re.compile(r"(\.[a-z0-9]{1,10})?")  # assets.clean_ext's output: "" or ".ext"
RENDER_FILE_RE = re.compile(r"renders/[0-9a-f]{64}\.mp4")
MEDIA_TABLES = ("portraits", "audio_tracks")
_TAIL = "the project database is damaged or was crafted; nothing was read, changed or deleted"


class UnsafeRowError(InputError):
    """A database row whose file path is malformed or leads outside the project."""

    def __init__(self, where: str | Path, table: str, row_id: object, problem: str,
                 tail: str = _TAIL):
        self.table = table
        self.row_id = row_id
        self.reason = problem
        row = f"{table} row {row_id}" if row_id is not None else table
        super().__init__(where, f"refused {row}: {problem} ({tail})")


def _show(value: object) -> str:
    """A bad value for a one-line message: repr (no raw newlines), shortened."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def media_problem(sha256: object, ext: object) -> str | None:
    """Why (sha256, ext) cannot name a media file, or None when they can."""
    if not isinstance(sha256, str) or not SHA256_RE.fullmatch(sha256):
        return f"sha256 {_show(sha256)} is not 64 lowercase hex digits"
    if not isinstance(ext, str) or not EXT_RE.fullmatch(ext):
        return f"ext {_show(ext)} is not a file extension ('.' and 1-10 of a-z, 0-9)"
    return None


def render_problem(file: object) -> str | None:
    """Why a renders.file value is not renders/<64 hex>.mp4, or None when it is."""
    if not isinstance(file, str) or not RENDER_FILE_RE.fullmatch(file):
        return f"file {_show(file)} is not renders/<64 hex digits>.mp4"
    return None


def escapes(root: Path, path: Path) -> bool:
    """Whether `path`, with every symlink followed, lies outside `root` (or is root)."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return real == real_root or real_root not in real.parents


def _escapes_named(root: Path, sub: str, path: Path, dirs: dict[str, bool] | None) -> bool:
    """escapes() for root/<sub>/<name> where name was validated (no separator, no '..'):
    the folder is resolved once per `dirs` cache (a listing of thousands of renders pays
    one lstat per file, not one per path component)."""
    if dirs is None:
        return escapes(root, path)
    out = dirs.get(sub)
    if out is None:
        out = dirs[sub] = escapes(root, root / sub)
    return out or (os.path.islink(path) and escapes(root, path))


def _checked(root: Path, sub: str, path: Path, table: str, row_id: object,
             dirs: dict[str, bool] | None = None) -> Path:
    if _escapes_named(root, sub, path, dirs):
        raise UnsafeRowError(root, table, row_id, f"{path.relative_to(root).as_posix()} "
                             f"resolves outside the project folder (a symbolic link?)")
    return path


def media_path(root: Path, table: str, row_id: object, sha256: object, ext: object,
               dirs: dict[str, bool] | None = None) -> Path:
    """root/media/<sha256><ext> for a portraits/audio_tracks row, validated (see module).
    `dirs`: a dict shared by the calls of one listing (folder checks done once)."""
    problem = media_problem(sha256, ext)
    if problem:
        raise UnsafeRowError(root, table, row_id, problem)
    return _checked(root, "media", root / "media" / f"{sha256}{ext}", table, row_id, dirs)


def render_path(root: Path, row_id: object, file: object,
                dirs: dict[str, bool] | None = None) -> Path:
    """root/<file> for a renders row, validated (see module); `dirs` as in media_path."""
    problem = render_problem(file)
    if problem:
        raise UnsafeRowError(root, "renders", row_id, problem)
    return _checked(root, "renders", root / str(file), "renders", row_id, dirs)


def new_file_path(root: Path, sub: str, name: str) -> Path:
    """root/sub/name for a file about to be written under a name the code computed (a
    render's spec hash, an import's sha256): refused when sub/ (or the name) is a symlink
    leading out of the project, so a write never lands outside it."""
    path = root / sub / name
    if escapes(root, path):
        raise InputError(root, f"refused to write {sub}/{name}: it resolves outside the "
                         "project folder (a symbolic link?)")
    return path


def validate_rows(db_path: Path, zip_path: str | Path) -> None:
    """Check every path-bearing row of a bundle's extracted project.db (read only, before
    the project is accepted); raise InputError naming `zip_path` and the first bad row.

    Only the row values and the staging folder are looked at: nothing is opened through
    a path that a row names."""
    from studio.db.health import db_problem

    root = Path(db_path).parent
    tail = "nothing was imported"
    damage = db_problem(Path(db_path))
    if damage:
        raise InputError(zip_path, f"its project.db {damage}; {tail}")
    uri = f"file:{quote(str(db_path))}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InputError(zip_path, f"its project.db cannot be opened ({exc})") from None
    try:
        tables = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        for table in MEDIA_TABLES:
            if table not in tables:
                continue
            for row_id, sha, ext in con.execute(f"SELECT id, sha256, ext FROM {table}"):
                problem = media_problem(sha, ext)
                if problem is None and escapes(root, root / "media" / f"{sha}{ext}"):
                    problem = "its media file resolves outside the project folder"
                if problem:
                    raise UnsafeRowError(zip_path, table, row_id, problem, tail)
        if "renders" in tables:
            for row_id, file in con.execute("SELECT id, file FROM renders"):
                problem = render_problem(file)
                if problem is None and escapes(root, root / file):
                    problem = "its file resolves outside the project folder"
                if problem:
                    raise UnsafeRowError(zip_path, "renders", row_id, problem, tail)
    except sqlite3.Error as exc:
        raise InputError(zip_path, f"its project.db is not a readable project database "
                         f"({exc}); nothing was imported") from None
    finally:
        con.close()
