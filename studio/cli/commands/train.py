"""`train`: the training stages of the diffusion engine (see core.training.loop).

    python main.py train --stage vae --data dataset/ --out runs/vae --config small
                                                 # stage 0: the VAE (core.training.vae_stage)
    python main.py train --stage 1 --data dataset/ --out runs/s1 --init runs/vae
    python main.py train --stage 1 --data dataset/ --out runs/s1 [--init WEIGHTS_DIR]
    python main.py train --stage 2 --data dataset/ --out runs/s2 --init runs/s1
    python main.py train ... --resume            # continue a run from its last checkpoint

`--init` may be given twice: a base folder (MagicTalk weights / run folder / SD1.5 folder)
and an AnimateDiff motion-module file. Several GPUs: `accelerate launch main.py train ...`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train or fine-tune the diffusion engine (stage vae, 1, 2)",
                       description="Stage vae (or 0): the VAE on the dataset's frames, for a "
                                   "configuration without a pretrained VAE. Stage 1: "
                                   "ReferenceNet, spatial layers, guider, image/text "
                                   "projections on frame pairs, the VAE frozen. Stage 2: "
                                   "motion modules and audio attention on clips, the rest "
                                   "frozen.")
    p.add_argument("--stage", required=True, choices=("vae", "0", "1", "2"),
                   help="vae (= 0), 1 or 2")
    p.add_argument("--config", default="tiny", choices=("tiny", "small"),
                   help="starting configuration when no --init folder is given: tiny "
                        "(tests, 64 px) or small (one face at 128 px on a CPU)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder (`data prepare`)")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--init", type=Path, action="append", default=[],
                   help="starting weights: MagicTalk/Hallo-import/run/SD1.5 folder, or a "
                        "motion-module file (repeatable; default: the tiny configuration)")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--batch", type=int, default=1, help="samples per micro-batch")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per step")
    p.add_argument("--lr", type=float, default=1e-5, help="learning rate (default 1e-5)")
    p.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    p.add_argument("--mixed-precision", default="no", choices=("no", "fp16", "bf16"))
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay, e.g. 0.999 (0 = off)")
    p.add_argument("--val-every", type=int, default=0, help="validation render every N steps")
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=8, help="stage 2 clip length (default 8)")
    p.add_argument("--face-weight", type=float, default=None,
                   help="extra loss weight on the face mask (default: 1 in stages vae and "
                        "2, 0 in stage 1)")
    p.add_argument("--lip-weight", type=float, default=None,
                   help="extra loss weight on the lip mask (default: 2 in stage 2, 0 in "
                        "stage 1)")
    p.add_argument("--clip", action="append", default=[], help="train on this clip id only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.training.loop import TrainConfig, train
    from studio.cli.progress import progress_bar

    stage = 0 if args.stage == "vae" else int(args.stage)
    cfg = TrainConfig(
        stage=stage, data=str(args.data), out=str(args.out),
        init=[str(p) for p in args.init], steps=args.steps, batch=args.batch,
        grad_accum=args.grad_accum, lr=args.lr, warmup=args.warmup,
        mixed_precision=args.mixed_precision, ema=args.ema, val_every=args.val_every,
        save_every=args.save_every, seed=args.seed, frames=args.frames, clips=args.clip,
        config=args.config, face_weight=args.face_weight, lip_weight=args.lip_weight)
    with progress_bar(f"train stage {args.stage}", enabled=not args.quiet) as progress:
        result = train(cfg, resume=args.resume, progress=progress)
    last = result.losses[-1] if result.losses else float("nan")
    print(f"{args.out}: step {result.step}, last loss {last:.4f}; weights: {result.weights}")
    return 0
