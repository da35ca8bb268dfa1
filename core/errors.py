"""Errors that carry a user-facing message.

Everything a user can get wrong (a missing file, a truncated image, no face, an unknown
engine) is raised as `InputError`, whose message names the file and the problem in one
line. The CLI prints that line and exits with status 2; the GUI shows it in a dialog.
Anything else escaping is a bug, not a user error.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad user input. `str(err)` is a complete one-line message for the user."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class EngineUnavailable(InputError):
    """The requested engine exists but cannot run here (no weights, no GPU...)."""

    def __init__(self, engine: str, reason: str):
        self.engine = engine
        super().__init__(None, f"engine '{engine}' is not available: {reason}")


class Cancelled(Exception):
    """Raised inside a render or export when the caller's cancel() returned True."""
