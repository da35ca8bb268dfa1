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
    # _register_init_tiny(sub)
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

    out = import_hallo(args.pretrained_models, args.out,
                       dtype=torch.float16 if args.fp16 else None)
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
