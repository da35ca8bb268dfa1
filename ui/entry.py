"""Process entry (lives in ui/ because it may open the GUI; ui may import studio, never the reverse): `python main.py` / `avatar-studio`.

With no arguments it opens the desktop studio (ui/); with a sub-command it runs the CLI.
Kept tiny so the GUI path does not import the CLI's dependencies and vice versa.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        try:
            from ui.app import run_app
        except ImportError as exc:  # the GUI needs PySide6 and a display server
            print(f"cannot open the desktop studio: {exc}", file=sys.stderr)
            from studio.cli import main as cli_main

            return cli_main(["--help"])
        return run_app()
    from studio.cli import main as cli_main

    return cli_main(argv)
