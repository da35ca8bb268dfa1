"""`demo`: the astronaut portrait (scikit-image) speaking a sentence espeak-ng synthesised."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from core.errors import InputError

ROOT = Path(__file__).resolve().parents[3]
ASSETS = ROOT / "assets"
DEMO_WAV = ASSETS / "demo_speech.wav"
DEMO_TRANSCRIPT = ASSETS / "demo_transcript.txt"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="render the demo: the astronaut speaks a sentence")
    p.add_argument("--out", type=Path, default=Path("out/demo.mp4"))
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def ensure_demo_speech() -> Path:
    """The Makefile synthesises the speech at set-up; do it here too if it is missing."""
    if DEMO_WAV.is_file():
        return DEMO_WAV
    text = DEMO_TRANSCRIPT.read_text(encoding="utf-8").strip()
    try:
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(DEMO_WAV), text],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InputError(DEMO_WAV, f"cannot synthesise the demo speech with espeak-ng ({exc}); run 'make demo'") from None
    return DEMO_WAV


def demo_portrait(folder: Path) -> Path:
    """Write scikit-image's astronaut (public domain, NASA) as the demo portrait."""
    from skimage import data

    from core.media import save_png

    return save_png(data.astronaut(), folder / "astronaut.png")


def run(args: argparse.Namespace) -> int:
    from studio.cli.progress import progress_bar
    from studio.oneshot import OneShotJob, render_oneshot

    if args.out == Path("out/demo.mp4"):
        args.out.parent.mkdir(exist_ok=True)
    wav = ensure_demo_speech()
    transcript = DEMO_TRANSCRIPT.read_text(encoding="utf-8").strip()
    with tempfile.TemporaryDirectory() as tmp:
        portrait = demo_portrait(Path(tmp))
        job = OneShotJob(portrait=portrait, audio=wav, out=args.out, transcript=transcript, size=args.size)
        with progress_bar("demo", enabled=not args.quiet) as progress:
            result = render_oneshot(job, progress=progress)
    print(f"rendered {result.n_frames} frames ({result.duration:.1f} s) in {result.timings['total']:.1f} s")
    print(result.out)
    return 0
