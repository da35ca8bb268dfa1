"""`bench [warp|studio|diffusion|quality|pose|ui|cluster|script|train|learn|all]`: the
project's own benchmarks.

    python main.py bench quality [--only NAME] [--sheets DIR] [--quick] [--json]
    python main.py bench pose [--sheets DIR] [--quick] [--json]

Every speed or quality number in the README comes from here.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from core.errors import InputError

SUITES = {
    "warp": "studio.bench.warp",
    "studio": "studio.bench.studio_bench",
    "diffusion": "studio.bench.diffusion",
    "quality": "studio.bench.quality",
    "pose": "studio.bench.pose",  # the warp's geometry at extreme head poses
    "ui": "studio.bench.ui_bench",  # runs ui/bench.py in a child process: no Qt here
    "cluster": "studio.bench.cluster_bench",  # a local Ray cluster vs the local queue
    "script": "studio.bench.script_bench",  # edit one sentence of a script: what re-renders
    "train": "studio.bench.train_bench",  # diffusion training: speed, memory, learning
    "learn": "studio.bench.train_proof",  # ~40 min: VAE + 2 stages on the astronaut, evaluate
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run benchmarks (default: the warp engine)")
    p.add_argument("suite", nargs="?", default="warp", choices=[*SUITES, "all"])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quick", action="store_true", help="fewer iterations")
    p.add_argument("--only", metavar="NAME",
                   help="quality: run one clip (a peer folder, or portrait+audio stems)")
    p.add_argument("--sheets", metavar="DIR", type=Path,
                   help="quality: write comparison contact sheets (ours beside the peers) "
                        "here; pose: each portrait at the extreme poses")
    p.set_defaults(func=run)


def _print(result: dict, indent: str) -> None:
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{indent}{key}")
            if value and all(not isinstance(v, dict) for v in value.values()) and len(value) > 4:
                print(indent + "    " + "  ".join(f"{k}={v}" for k, v in value.items()))
            else:
                _print(value, indent + "  ")
        else:
            print(f"{indent}{key:34s} {value}")


def run(args: argparse.Namespace) -> int:
    # "all" leaves out the long training proof (run `bench learn` on its own)
    names = [n for n in SUITES if n != "learn"] if args.suite == "all" else [args.suite]
    extra = {k: v for k, v in (("only", args.only), ("sheets", args.sheets)) if v is not None}
    if "only" in extra and names != ["quality"]:
        raise InputError(None, "--only applies to `bench quality` only")
    if "sheets" in extra and names not in (["quality"], ["pose"]):
        raise InputError(None, "--sheets applies to `bench quality` and `bench pose` only")
    results = {}
    for name in names:
        module = importlib.import_module(SUITES[name])
        results[name] = module.run(quick=args.quick, **(extra if name in ("quality", "pose")
                                                         else {}))
        if not args.json:
            print(f"== bench {name}")
            fmt = getattr(module, "format_result", None)
            if fmt is not None:
                print(fmt(results[name]))
            else:
                _print(results[name], "  ")
    if args.json:
        print(json.dumps(results if len(names) > 1 else results[names[0]], indent=2))
    return 0
