"""Helpers shared by the project CLI commands: the --project option and small parsers."""

from __future__ import annotations

import argparse

from core.errors import InputError


def add_project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project", "-p", metavar="PATH_OR_NAME", default=None,
        help="project folder or name in the projects folder (default: $AVATAR_STUDIO_PROJECT, "
        "else the current folder)")


def open_project(args):
    from studio.paths import resolve_project
    from studio.project import Project

    return Project.open(resolve_project(getattr(args, "project", None)))


def int_arg(value: str, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(None, f"{what} must be a whole number, got '{value}'") from None


def optional_int(value: str | None, what: str) -> int | None:
    """'none' / '' -> None (clear), else an int."""
    if value is None or value.strip().lower() in ("", "none", "-"):
        return None
    return int_arg(value, what)


def fmt_seconds(frames: int, fps: float) -> str:
    return f"{frames / fps:6.2f}s"


def pick_timeline(project, value) -> int:
    if value is None:
        return project.timeline(None).id
    return project.timeline(int_arg(value, "timeline id")).id


def read_transcript(text: str | None, file: str | None) -> str | None:
    """The transcript from `--transcript TEXT` or `--transcript-file F` (a file wins).

    Bounded: at most MAX_TRANSCRIPT_CHARS are accepted, and a file is read only that far
    (a 10 GB file, or /dev/zero, never gets loaded); a FIFO or a folder is refused by name.
    """
    from core.audio.text import MAX_TRANSCRIPT_CHARS, check_transcript
    from core.fsutil import check_input_file

    if file is not None:
        path = check_input_file(file, "a text file")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read(MAX_TRANSCRIPT_CHARS + 1)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, f"cannot read the transcript ({exc})") from None
        return check_transcript(text, path)
    return check_transcript(text, None)
