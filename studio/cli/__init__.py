"""The command-line interface.

Each module in `studio.cli.commands` defines `register(subparsers)` which adds one
sub-command (or a group) and sets `func(args) -> int` on it; modules are discovered, so a
new command is a new file. User errors (`core.errors.InputError`) become one line on
stderr and exit status 2 (so do OSErrors of the user's environment: a full disk, a
read-only folder); Ctrl-C exits 130 and a closed stdout pipe (`jobs list | head -1`) exits
141, both without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import pkgutil
import sys

from core.errors import Cancelled, InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatar-studio",
        description="Turn a portrait and a speech recording into a talking-head video. "
        "Run without arguments to open the desktop studio.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from studio.cli import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"studio.cli.commands.{info.name}")
        module.register(sub)
    return parser


class _Parser(argparse.ArgumentParser):
    pass


_USER_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM,
                          errno.ENAMETOOLONG, getattr(errno, "EDQUOT", errno.ENOSPC)})
"""OSErrors that are the user's environment, not a bug (a full disk, a read-only or
forbidden folder, a name too long): one line and exit 2 even where no writer wrapped them."""


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status is returned (0 ok, 2 user error, 130 interrupted,
    141 when stdout was closed early, as `python main.py jobs list | head -1` does)."""
    try:
        try:
            return _run(argv)
        finally:  # also after argparse's SystemExit (--help)
            sys.stdout.flush()  # a closed pipe must surface here, not at interpreter exit
    except BrokenPipeError:
        # The reader went away (head, a closed pager): stop quietly, like any Unix tool
        # killed by SIGPIPE. Point stdout at /dev/null so the interpreter's final flush of
        # the unsent buffer cannot print "Exception ignored ... BrokenPipeError".
        _silence_stdout()
        return 128 + 13  # 128 + SIGPIPE, what the shell reports for `yes | head -1`


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or already gone
        pass


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS:
            raise
        what = exc.strerror or str(exc)
        print(f"error: {exc.filename}: {what}" if exc.filename else f"error: {what}",
              file=sys.stderr)
        return 2
