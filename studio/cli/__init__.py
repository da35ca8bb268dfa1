"""The command-line interface.

Each module in `studio.cli.commands` defines `register(subparsers)` which adds one
sub-command (or a group) and sets `func(args) -> int` on it; modules are discovered, so a
new command is a new file. User errors (`core.errors.InputError`) become one line on
stderr and exit status 2; Ctrl-C exits 130 without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: list[str] | None = None) -> int:
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
