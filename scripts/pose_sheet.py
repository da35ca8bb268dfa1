"""Contact sheets of the warp renderer's 3-D head pose, one PNG per portrait.

Rows: yaw -15..15, pitch -10..10, roll -8..8 (five steps each, the middle tile is the
portrait at rest), then the combined extremes. Used to judge by eye that a pose reads as a
head turning (parallax, hair following, background still) and not as a rubber sheet.

    python scripts/pose_sheet.py [--size 256] [--out /tmp/pose_sheets] [portrait ...]

Without portraits: every image in ../shared/samples/portraits and ../shared/peers/*/ref.jpg.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.engines.warp import WarpEngine  # noqa: E402
from core.engines.warp_pose import posed_track  # noqa: E402
from core.types import AudioFeatures, FaceRig, RenderRequest  # noqa: E402

SHARED = ROOT.parent / "shared"

GRID = [
    [(y, 0, 0) for y in (-15, -7.5, 0, 7.5, 15)],
    [(0, p, 0) for p in (-10, -5, 0, 5, 10)],
    [(0, 0, r) for r in (-8, -4, 0, 4, 8)],
    [(-15, -10, -8), (15, -10, 8), (0, 0, 0), (-15, 10, 8), (15, 10, -8)],
]


def posed_request(rig: FaceRig, poses: np.ndarray, size: int) -> RenderRequest:
    """A request whose frame i holds the portrait's closed-lip rest shape at poses[i]."""
    motion = posed_track(rig, poses)
    n = motion.n_frames
    z = np.zeros(n, np.float32)
    feats = AudioFeatures(
        25.0, n, n / 25.0, z, z, np.zeros((n, 80), np.float32), z.astype(np.int16),
        np.zeros((n, 1), np.float32),
    )
    return RenderRequest(rig=rig, features=feats, motion=motion, size=size)


def sheet(rig: FaceRig, size: int) -> np.ndarray:
    poses = np.array([p for row in GRID for p in row], np.float64)
    req = posed_request(rig, poses, size)
    frames = list(WarpEngine().render(req))
    rows = []
    for r, row in enumerate(GRID):
        tiles = []
        for c, p in enumerate(row):
            f = frames[r * len(row) + c].copy()
            label = "y{:+g} p{:+g} r{:+g}".format(*p)
            cv2.putText(f, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
            tiles.append(f)
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("portraits", nargs="*")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", default="/tmp/pose_sheets")
    a = ap.parse_args(argv)
    import core.face
    from core.image import load_image

    paths = [Path(p) for p in a.portraits] or [
        *sorted((SHARED / "samples" / "portraits").glob("*.*")),
        *sorted(SHARED.glob("peers/*/ref.jpg")),
    ]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in paths:
        rig = core.face.analyze(load_image(p))
        img = sheet(rig, a.size)
        name = p.stem if p.stem != "ref" else p.parent.name
        dst = out / f"{name}_{a.size}.png"
        cv2.imwrite(str(dst), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        print(dst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
