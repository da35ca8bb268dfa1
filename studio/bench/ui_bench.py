"""`python main.py bench ui`: the desktop studio's start-up time and event-loop responsiveness.

The measuring code is `ui/bench.py` (it needs Qt); it runs in a child process so the studio
layer, and the CLI process, never import Qt. See ui/bench.py for what each number means.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from studio.paths import REPO_ROOT


def run(quick: bool = False) -> dict:
    env = {**os.environ}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    cmd = [sys.executable, "-m", "ui.bench", "--json", *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)  # fmt: skip
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"bench ui failed (exit {proc.returncode}): {tail}")
    return json.loads(proc.stdout[proc.stdout.index("{"):])
