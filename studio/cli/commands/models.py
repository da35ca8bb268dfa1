"""`models` command group: manage diffusion weights.

  models import-hallo PRETRAINED_MODELS_DIR --out WEIGHTS_DIR   convert Hallo's release
  models verify-hallo FIXTURE_DIR                              numeric parity + key check

Each sub-command is registered by a small `_register_*` function below; `init-tiny`
(helper-owned, see core/diffusion/tiny.py) is added the same way in the marked section.
torch/diffusers are imported inside the handlers so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="manage diffusion model weights (import, verify, tiny demo weights)"
    )
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _help(parser))
    _register_import_hallo(sub)
    _register_verify_hallo(sub)
    # --- init-tiny -------------------------------------------------------------------------
    # `models init-tiny` (writes the tiny random-weight model) is registered here:
    _register_init_tiny(sub)
    # ----------------------------------------------------------------------------------------


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _register_import_hallo(sub) -> None:
    p = sub.add_parser(
        "import-hallo",
        help="convert Hallo's pretrained_models/ into a MagicTalk weights folder",
        description="Reads hallo/net.pth, motion_module/mm_sd_v15_v2.ckpt, sd-vae-ft-mse/ and "
        "stable-diffusion-v1-5/unet/ (plus optional text encoder, wav2vec, face_analysis), "
        "checks every key and shape strictly, and writes a diffusers-style folder.",
    )
    p.add_argument("pretrained_models", help="Hallo's pretrained_models folder")
    p.add_argument("--out", required=True, help="new folder to write the weights into")
    p.add_argument("--fp16", action="store_true", help="store the weights as float16")
    p.set_defaults(func=_import_hallo)


def _import_hallo(args) -> int:
    import torch

    from core.diffusion.hallo.importer import import_hallo

    out = import_hallo(args.pretrained_models, args.out, dtype=torch.float16 if args.fp16 else None)
    print(f"wrote {out}")
    return 0


def _register_verify_hallo(sub) -> None:
    p = sub.add_parser(
        "verify-hallo",
        help="check numeric parity with Hallo on a reference fixture (e.g. hallo_tiny)",
    )
    p.add_argument("fixture", help="fixture folder (config.json, net/motion/case safetensors)")
    p.set_defaults(func=_verify_hallo)


def _verify_hallo(args) -> int:
    from core.diffusion.hallo.verify import verify_fixture

    report = verify_fixture(args.fixture)
    print(report.format())
    if not report.ok:
        print("verify-hallo: outputs differ from Hallo's beyond tolerance", file=sys.stderr)
        return 1
    return 0


def _register_init_tiny(sub) -> None:
    p = sub.add_parser(
        "init-tiny",
        help="write a tiny random-weight diffusion model (for tests and demos; no download)",
        description="Writes a complete MagicTalk weights folder with tiny random weights "
        "(64x64 output, a few MB): every component of the real pipeline, so "
        "`render --engine diffusion --weights DIR` runs end to end on a CPU in seconds. "
        "The pictures it makes are noise-like: it is not a trained model.",
    )
    p.add_argument("folder", help="folder to create (must not exist or be empty)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--no-wav2vec", action="store_true", help="leave out the tiny wav2vec2 model")
    p.set_defaults(func=_init_tiny)


def _init_tiny(args) -> int:
    from pathlib import Path

    from core.errors import InputError

    folder = Path(args.folder).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(folder, "already exists and is not an empty folder; choose a new one")
    from core.diffusion.tiny import write_tiny

    write_tiny(folder, seed=args.seed, with_wav2vec=not args.no_wav2vec)
    print(f"wrote tiny weights to {folder}")
    return 0
