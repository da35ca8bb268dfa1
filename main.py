"""Avatar Studio. No arguments: the desktop studio. A sub-command: the CLI (`--help`)."""

from ui.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
