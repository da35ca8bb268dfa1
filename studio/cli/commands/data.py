"""`data prepare VIDEOS_DIR OUT_DIR`: talking-head videos → a diffusion training dataset.

    python main.py data prepare videos/ dataset/ [--size 256] [--vae WEIGHTS_DIR]
        [--captions captions.json] [--min-frames 16] [--max-frames 250]

Resumable: complete clips are kept, half-written ones redone. Unusable videos (no face,
several faces, too short, no audio, scene cuts, unreadable) are listed and skipped.
See core.training.data for the dataset layout.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="prepare training data for the diffusion engine")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    prep = actions.add_parser(
        "prepare", help="videos folder -> training dataset (crops, maps, masks, features)",
        description="Detect and track the face of every video, crop it stably, extract the "
                    "audio features, draw the motion-prior maps and masks, write a dataset.")
    prep.add_argument("videos", type=Path, help="folder of talking-head videos")
    prep.add_argument("out", type=Path, help="dataset folder (created; re-run to resume)")
    prep.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    prep.add_argument("--min-frames", type=int, default=16, help="shorter videos are skipped")
    prep.add_argument("--max-frames", type=int, default=250, help="frames kept per video")
    prep.add_argument("--vae", type=Path, help="weights folder (vae/) or AutoencoderKL folder: "
                                               "also store VAE latents")
    prep.add_argument("--wav2vec", type=Path, help="a Wav2Vec2Model folder: also store its "
                                                   "hidden states")
    prep.add_argument("--captions", type=Path, help="JSON {video file name: prompt} for "
                                                    "text-edit training")
    prep.add_argument("--quiet", action="store_true", help="no progress bar")
    prep.set_defaults(func=run_prepare)


def _load_vae(path: Path):
    from diffusers import AutoencoderKL

    from core.errors import InputError

    folder = path / "vae" if (path / "vae" / "config.json").is_file() else path
    if not (folder / "config.json").is_file():
        raise InputError(path, "is not a VAE folder (no config.json, no vae/config.json)")
    try:
        return AutoencoderKL.from_pretrained(str(folder)).eval()
    except (OSError, ValueError) as exc:
        raise InputError(folder, f"cannot be loaded as a VAE ({exc})") from None


def _load_wav2vec(path: Path):
    from transformers import Wav2Vec2Model

    from core.errors import InputError

    folder = path / "wav2vec" if (path / "wav2vec" / "config.json").is_file() else path
    try:
        return Wav2Vec2Model.from_pretrained(str(folder), local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise InputError(folder, f"cannot be loaded as a wav2vec2 model ({exc})") from None


def run_prepare(args: argparse.Namespace) -> int:
    from core.errors import InputError
    from core.training.data import PrepareOptions, prepare, read_captions
    from studio.cli.progress import progress_bar

    if args.min_frames < 2 or args.max_frames < args.min_frames:
        raise InputError(None, "--min-frames must be >= 2 and <= --max-frames")
    opts = PrepareOptions(size=args.size, min_frames=args.min_frames,
                          max_frames=args.max_frames, captions=read_captions(args.captions))
    if args.vae is not None:
        opts.vae = _load_vae(args.vae)
    if args.wav2vec is not None:
        opts.wav2vec = _load_wav2vec(args.wav2vec)
    with progress_bar("prepare", enabled=not args.quiet) as progress:
        report = prepare(args.videos, args.out, opts, progress=progress)
    print(report.summary())
    print(f"dataset: {args.out / 'manifest.json'}")
    return 0 if report.done or report.reused else 2
