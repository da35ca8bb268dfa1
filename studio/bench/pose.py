"""`bench pose`: the warp engine's geometry at the extreme head poses of issue 11 (yaw +-15,
pitch +-10, roll +-8 degrees, alone and combined) on every portrait of ../shared/samples
and ../shared/peers, at 512 px:

- far_kink: how sharply straight lines of the background bend (core.engines.warp_measure),
  ours beside the same dense mesh without its background points (`fan`: triangles from the
  hair straight to the frame border, as before them); mean and worst over the poses;
- ear / behind_ear: the largest stretch beyond the rigid head of the ear region and of the
  strip behind the ear (1 = rigid);
- holes: output pixels no triangle covers (must be 0).

`--sheets DIR` writes each portrait's posed frames as one contact sheet, to look at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import InputError
from studio.bench.common import PEERS, SAMPLES

POSES = ((15, 10, 8), (-15, -10, -8), (15, -10, -8), (-15, 10, 8), (15, 0, 0), (-15, 0, 0),
         (0, 10, 0), (0, -10, 0))
SIZE = 512


def _portraits() -> list[tuple[str, Path]]:
    out = [(p.stem, p) for p in sorted((SAMPLES / "portraits").glob("*.*"))
           if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    if PEERS.is_dir():
        out += [(d.name, d / "ref.jpg") for d in sorted(PEERS.iterdir()) if (d / "ref.jpg").is_file()]
    if not out:
        raise FileNotFoundError(f"no portraits under {SAMPLES} or {PEERS}")
    return out


def measure(rig) -> dict:
    """The pose measures of one analysed portrait (see the module doc)."""
    from core.engines.warp_measure import ear_triangles, far_kink, stretch, uncovered
    from core.engines.warp_mesh import MeshWarp
    from core.engines.warp_pose import posed_track

    track = posed_track(rig, np.asarray(POSES, np.float64))
    ours = MeshWarp.build(rig, SIZE, dense=True)
    fan = MeshWarp.build(rig, SIZE, dense=True, background=False)
    rows = {"far_kink": [], "far_kink_fan": [], "ear": [], "behind_ear": [], "holes": 0}
    ear_t, behind_t = ear_triangles(ours), ear_triangles(ours, behind_ear=True)
    for i in range(len(POSES)):
        a = (track.landmarks[i], track.head_pose[i], track.head_shift[i])
        rows["far_kink"].append(far_kink(ours, *a))
        rows["far_kink_fan"].append(far_kink(fan, *a))
        rows["ear"].append(stretch(ours, ear_t, *a))
        rows["behind_ear"].append(stretch(ours, behind_t, *a))
        rows["holes"] += uncovered(ours, *a)

    def stat(xs: list[float]) -> tuple[float | None, float | None]:
        x = np.asarray(xs, np.float64)
        x = x[np.isfinite(x)]
        return (round(float(x.mean()), 3), round(float(x.max()), 3)) if len(x) else (None, None)

    out: dict = {"dense": bool(ours.dense)}
    for key in ("far_kink", "far_kink_fan"):
        out[f"{key}_mean"], out[f"{key}_max"] = stat(rows[key])
    out["ear_max"] = stat(rows["ear"])[1]
    out["behind_ear_max"] = stat(rows["behind_ear"])[1]
    out["holes"] = int(rows["holes"])
    return out


def write_sheet(rig, path: Path) -> None:
    """The portrait at rest and at each of `POSES`, rendered by the warp engine (closed
    lips, no speech), as one 3 x 3 contact sheet at `path` (PNG, written atomically)."""
    import cv2

    from core.audio.visemes import VISEMES
    from core.engines.warp import WarpEngine
    from core.engines.warp_pose import posed_track
    from core.fsutil import atomic_path
    from core.types import AudioFeatures, RenderRequest

    poses = np.asarray([(0, 0, 0), *POSES], np.float64)
    n = len(poses)
    z = np.zeros(n, np.float32)
    feats = AudioFeatures(fps=25.0, n_frames=n, duration=n / 25.0, rms=z, vad=z,
                          mel=np.zeros((n, 80), np.float32), visemes=np.zeros(n, np.int16),
                          viseme_weights=np.zeros((n, len(VISEMES)), np.float32))
    req = RenderRequest(rig=rig, features=feats, motion=posed_track(rig, poses), size=SIZE)
    frames = list(WarpEngine().render(req))
    for f, p in zip(frames, poses, strict=True):
        cv2.putText(f, " ".join(f"{int(v):+d}" for v in p), (8, 24),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    grid = np.vstack([np.hstack(frames[r * 3:r * 3 + 3]) for r in range(3)])
    ok, png = cv2.imencode(".png", cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    path.parent.mkdir(exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        tmp.write_bytes(png.tobytes())


def run(quick: bool = False, sheets: Path | None = None) -> dict:
    import core.face
    from core.image import load_image

    if sheets is not None:
        sheets = Path(sheets)
        if not sheets.parent.is_dir() or (sheets.exists() and not sheets.is_dir()):
            raise InputError(sheets, "cannot write the sheets there (not a folder)")
    portraits = _portraits()
    if quick:
        portraits = portraits[:2]
    result: dict = {"poses": [list(p) for p in POSES], "size": SIZE, "portraits": {}}
    for name, path in portraits:
        rig = core.face.analyze(load_image(path))
        result["portraits"][name] = measure(rig)
        if sheets is not None:
            write_sheet(rig, sheets / f"pose_{name}.png")
    got = [r for r in result["portraits"].values() if r["far_kink_mean"] is not None]
    if got:
        ours = float(np.mean([r["far_kink_mean"] for r in got]))
        fan = float(np.mean([r["far_kink_fan_mean"] for r in got]))
        result["far_kink_mean"] = round(ours, 3)
        result["far_kink_fan_mean"] = round(fan, 3)
        result["far_kink_better"] = f"{sum(r['far_kink_max'] < r['far_kink_fan_max'] for r in got)}/{len(got)}"
    result["ear_max"] = max(r["ear_max"] for r in result["portraits"].values())
    result["behind_ear_max"] = max(r["behind_ear_max"] for r in result["portraits"].values())
    result["holes"] = sum(r["holes"] for r in result["portraits"].values())
    return result
