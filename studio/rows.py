"""Reading one row by id with the project's one-line error (shared by every store)."""

from __future__ import annotations

from core.errors import InputError
from studio.db.session import Database


def get_row(db: Database, model, ident, what: str, project_name: str):
    """The row `ident` of `model`, detached; InputError naming `what` when the id is not a
    number or no such row exists."""
    try:
        ident = int(ident)
    except (TypeError, ValueError):
        raise InputError(None, f"{what} id must be a number, got '{ident}'") from None
    row = db.run_read(lambda s: s.get(model, ident))
    if row is None:
        raise InputError(None, f"no {what} with id {ident} in project {project_name}")
    return row
