"""Avatar Studio. No arguments: the desktop studio. A sub-command: the CLI (`--help`).

Sub-commands go straight to studio.cli, so the CLI starts without Qt (ui/ is imported only
to open the GUI)."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        from studio.cli import main as cli_main

        return cli_main(argv)
    from ui.entry import main as gui_main

    return gui_main([])


if __name__ == "__main__":
    raise SystemExit(main())
