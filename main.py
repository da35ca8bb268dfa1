"""Avatar Studio. No arguments: the desktop studio. A sub-command: the CLI (`--help`).

Sub-commands go straight to studio.cli, so the CLI starts without Qt (ui/ is imported only
to open the GUI)."""

import os
import sys

ONE_BLAS_THREAD = frozenset({"render", "demo", "export"})
"""Commands whose numeric work is small matrices (the warp's set-up solves a 468-point RBF
system): OpenBLAS's worker threads only spin there, and on a busy 2-core machine that spin
made the solve take 1-7 s instead of 0.1 s (same results with one thread: the rendered
files compare equal byte for byte). The GUI (no sub-command) renders in its worker thread and
gets the same. Set before numpy loads; the user's own setting wins."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ONE_BLAS_THREAD:  # no sub-command: the GUI, which renders too
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if argv:
        from studio.cli import main as cli_main

        return cli_main(argv)
    from ui.entry import main as gui_main

    return gui_main([])


if __name__ == "__main__":
    raise SystemExit(main())
