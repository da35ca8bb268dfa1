"""`bench [warp|studio|diffusion|quality|ui|train|learn|all]`: the project's own benchmarks.

Every speed or quality number in the README comes from here.
"""

from __future__ import annotations

import argparse
import importlib
import json

SUITES = {
    "warp": "studio.bench.warp",
    "studio": "studio.bench.studio_bench",
    "diffusion": "studio.bench.diffusion",
    "quality": "studio.bench.quality",
    "ui": "studio.bench.ui_bench",
    "train": "studio.bench.train_bench",  # diffusion training: speed, memory, learning
    "learn": "studio.bench.train_proof",  # ~15 min: train on the astronaut, evaluate  # runs ui/bench.py in a child process: no Qt here
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run benchmarks (default: the warp engine)")
    p.add_argument("suite", nargs="?", default="warp", choices=[*SUITES, "all"])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quick", action="store_true", help="fewer iterations")
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
    results = {}
    for name in names:
        module = importlib.import_module(SUITES[name])
        results[name] = module.run(quick=args.quick)
        if not args.json:
            print(f"== bench {name}")
            _print(results[name], "  ")
    if args.json:
        print(json.dumps(results if len(names) > 1 else results[names[0]], indent=2))
    return 0
