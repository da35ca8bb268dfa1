"""Where projects live and how a `--project` argument names one.

A project is named by a path (any folder holding project.db) or by a bare name looked up
in the projects folder: env AVATAR_STUDIO_PROJECTS, else <repo>/projects.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from core.errors import InputError

DB_NAME = "project.db"
REPO_ROOT = Path(__file__).resolve().parents[1]
_NAME_RE = re.compile(r"^[\w][\w .\-]{0,99}$")


def projects_dir() -> Path:
    env = os.environ.get("AVATAR_STUDIO_PROJECTS")
    return Path(env).expanduser() if env else REPO_ROOT / "projects"


def is_project(folder: str | Path) -> bool:
    return (Path(folder) / DB_NAME).is_file()


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith(".") or text.startswith("~")


def new_project_folder(name_or_path: str | Path) -> Path:
    """Where `project new X` creates X: a bare name goes into projects_dir()."""
    text = str(name_or_path)
    if _looks_like_path(text) or Path(text).is_absolute():
        return Path(text).expanduser().resolve()
    if not _NAME_RE.match(text):
        raise InputError(None, f"'{text}' is not a valid project name (letters, digits, "
                         "spaces, '.', '-', '_'; or give a path)")
    return (projects_dir() / text).resolve()


def resolve_project(value: str | Path | None) -> Path:
    """The folder of an existing project from a --project value (path or name); None falls
    back to env AVATAR_STUDIO_PROJECT, then the current directory."""
    if value is None or str(value) == "":
        value = os.environ.get("AVATAR_STUDIO_PROJECT") or None
    if value is None:
        if is_project(Path.cwd()):
            return Path.cwd().resolve()
        raise InputError(None, "no project selected: pass --project PATH_OR_NAME, set "
                         "AVATAR_STUDIO_PROJECT, or run inside a project folder")
    text = str(value)
    p = Path(text).expanduser()
    if is_project(p):
        return p.resolve()
    if not _looks_like_path(text) and not p.is_absolute():
        q = projects_dir() / text
        if is_project(q):
            return q.resolve()
    if p.exists():
        raise InputError(p, "is not a project (no project.db inside); create one with "
                         "'project new'")
    raise InputError(None, f"project '{text}' not found (looked at {p} and in "
                     f"{projects_dir()})")


def list_projects(folder: Path | None = None) -> list[Path]:
    folder = folder or projects_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_project(p))
