"""Check (and re-derive) the Face Mesh → iBUG-68 map against dlib's 68-point predictor.

    .venv/bin/python scripts/derive_ibug68_map.py --dlib68 PATH [--derive] [--sheet OUT.png]

A DEVELOPER tool, never imported by the product: it loads dlib's
`shape_predictor_68_face_landmarks.dat` (trained on iBUG 300-W, non-commercial licence;
set-up deliberately does not install it, so PATH is a copy the developer obtained for
this non-commercial research use, kept outside the checkout and the venv) only to measure how close `core.face.facemesh.points68_from_mesh` lands to the points the
old pipeline used, on the sample portraits and peer reference frames (../shared) and
their mirror images. It prints the mean distance in inter-ocular distances (IOD, between
dlib's eye centres) per region and per image, and draws a contact sheet (dlib red, Face
Mesh green, joined by a line). With --derive it re-runs the search that produced
`IBUG68_FROM_MESH`: per iBUG point, the vertex or neighbour-pair midpoint of the matching
mesh contour with the least mean distance, chosen per left/right pair through the mesh's
own mirror map (found by matching the mesh of each mirrored image).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.face.detect import detect_faces  # noqa: E402
from core.face.facemesh import (  # noqa: E402
    IBUG68_FROM_MESH,
    as_rgb8,  # noqa: E402
    mesh_from_box,
    points68_from_mesh,
)
from core.face.keypoints import MIRROR  # noqa: E402
from core.image import load_image  # noqa: E402

SHARED = ROOT.parent / "shared"
REGIONS = {"jaw": slice(0, 17), "brows": slice(17, 27), "nose": slice(27, 36),
           "eyes": slice(36, 48), "lips": slice(48, 68)}
OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
        377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
OUT_LIP = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39,
           40, 185]
IN_LIP = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81,
          80, 191]
BROW_UP, BROW_LO = [70, 63, 105, 66, 107], [46, 53, 52, 65, 55]
NOSE_MID = [168, 6, 197, 195, 5, 4, 1, 19, 94]
NOSTRIL = [98, 97, 99, 240, 64, 48, 75, 60, 20, 79, 166, 219, 218, 235, 59, 102, 129]


def portraits() -> list[Path]:
    return sorted((SHARED / "samples" / "portraits").glob("*")) + sorted(
        (SHARED / "peers").glob("*/ref.jpg"))


def collect(dlib68: Path):
    """(names, widths, meshes [n, 468, 3], dlib68 [n, 68, 2]) for every image and mirror."""
    import dlib

    predictor = dlib.shape_predictor(str(dlib68))
    names, widths, meshes, dl = [], [], [], []
    for path in portraits():
        img = load_image(path)
        for flip in (False, True):
            im = np.ascontiguousarray(img[:, ::-1]) if flip else img
            det = detect_faces(im)[0]
            x0, y0, x1, y1 = (round(v) for v in det.box)
            shape = predictor(as_rgb8(im), dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
            names.append(f"{path.parent.name}/{path.name}" + (" (mirror)" if flip else ""))
            widths.append(im.shape[1])
            meshes.append(mesh_from_box(im, det.box).points)
            dl.append([(p.x, p.y) for p in shape.parts()])
    return names, widths, np.array(meshes, np.float64), np.array(dl, np.float64)


def mesh_mirror(widths, meshes) -> np.ndarray:
    """[468] index of each vertex's mirror twin, from the meshes of mirrored images."""
    from scipy.optimize import linear_sum_assignment

    def norm(p, ref):
        left, right = ref[[33, 133]].mean(0), ref[[362, 263]].mean(0)
        d = right - left
        a = np.arctan2(d[1], d[0])
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        return (p - (left + right) / 2) @ rot.T / np.linalg.norm(d)

    a, b = [], []
    for k in range(0, len(meshes), 2):
        p, q = meshes[k][:, :2], meshes[k + 1][:, :2].copy()
        q[:, 0] = widths[k] - 1 - q[:, 0]
        a.append(norm(p, p))
        b.append(norm(q, p))
    cost = np.linalg.norm(np.mean(b, 0)[:, None] - np.mean(a, 0)[None], axis=2)
    mir = linear_sum_assignment(cost)[1]
    mir[[292, 308]] = [62, 78]  # the inner mouth corners sit too close for the matching
    assert (mir[mir] == np.arange(468)).all()
    return mir


def derive(widths, meshes, dl) -> dict[int, tuple[int, ...]]:
    mir = mesh_mirror(widths, meshes)
    pts = meshes[:, :, :2]
    iod = np.linalg.norm(dl[:, 42:48].mean(1) - dl[:, 36:42].mean(1), axis=1)

    def ring(r):
        return [(v,) for v in r] + [(r[k], r[(k + 1) % len(r)]) for k in range(len(r))]

    def mirrored(cands):
        return [tuple(int(mir[v]) for v in c) for c in cands]

    brow = ([(v,) for v in BROW_UP + BROW_LO + [156]] + list(zip(BROW_UP, BROW_LO, strict=True))
            + list(itertools.pairwise(BROW_UP)) + list(itertools.pairwise(BROW_LO))
            + [(156, 70), (156, 46)])
    nostril = [(v,) for v in NOSTRIL] + list(itertools.combinations(NOSTRIL, 2))
    cands: dict[int, list] = {i: ring(OVAL) for i in range(17)}
    cands |= {i: brow for i in range(17, 22)} | {i: mirrored(brow) for i in range(22, 27)}
    cands |= {i: [(v,) for v in NOSE_MID] + list(itertools.pairwise(NOSE_MID))
              for i in range(27, 31)}
    cands |= {31: nostril, 32: nostril, 34: mirrored(nostril), 35: mirrored(nostril)}
    cands[33] = [(v,) for v in (2, 94, 164, 19, 1)] + [(2, 94), (2, 164), (94, 19), (94, 164)]
    cands |= {i: ring(EYE) + mirrored(ring(EYE)) for i in range(36, 48)}
    cands |= {i: ring(OUT_LIP) for i in range(48, 60)} | {i: ring(IN_LIP) for i in range(60, 68)}

    def err(i, c):
        return float((np.linalg.norm(pts[:, list(c)].mean(1) - dl[:, i], axis=1) / iod).mean())

    choice: dict[int, tuple[int, ...]] = {}
    for i in range(68):
        if i in choice:
            continue
        j = int(MIRROR[i])
        best = None
        for c in cands[i]:
            cm = tuple(int(mir[v]) for v in c)
            if i == j and sorted(cm) != sorted(c):
                continue
            e = err(i, c) + (err(j, cm) if j != i else 0.0)
            if best is None or e < best[0]:
                best = (e, c, cm)
        choice[i], choice[j] = best[1], best[2]
    return choice


def sheet(names, images, derived, dl, path: Path, tile: int = 360) -> None:
    """Face crops, dlib's 68 in red, the Face Mesh's 68 in green, a line between each pair."""
    tiles = []
    for name, img, d68, r68 in zip(names, images, derived, dl, strict=True):
        lo, hi = r68.min(0), r68.max(0)
        c, side = (lo + hi) / 2, float(max(hi - lo)) * 1.3
        x0, y0 = c - side / 2
        k = tile / side
        m = np.array([[k, 0, -x0 * k], [0, k, -y0 * k]])
        t = cv2.warpAffine(img, m, (tile, tile), flags=cv2.INTER_AREA)
        t = cv2.cvtColor(t, cv2.COLOR_RGB2BGR)
        for a, b in zip(r68 * k - (x0 * k, y0 * k), d68 * k - (x0 * k, y0 * k), strict=True):
            cv2.line(t, tuple(np.int32(a)), tuple(np.int32(b)), (255, 255, 255), 1)
            cv2.circle(t, tuple(np.int32(a)), 2, (0, 0, 255), -1)
            cv2.circle(t, tuple(np.int32(b)), 2, (0, 220, 0), -1)
        cv2.putText(t, name[:40], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
        tiles.append(t)
    cols = 4
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    cv2.imwrite(str(path), np.vstack(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--derive", action="store_true", help="re-run the search and print it")
    ap.add_argument("--sheet", type=Path, default=Path("/tmp/facemesh_sheet.png"))
    ap.add_argument("--dlib68", type=Path, required=True,
                    help="shape_predictor_68_face_landmarks.dat (not installed by set-up)")
    args = ap.parse_args()
    if not args.dlib68.is_file():
        ap.error(f"{args.dlib68}: no such file")
    names, widths, meshes, dl = collect(args.dlib68)
    if args.derive:
        choice = derive(widths, meshes, dl)
        print("IBUG68_FROM_MESH =", [choice[i] for i in range(68)])
        same = all(sorted(choice[i]) == sorted(IBUG68_FROM_MESH[i]) for i in range(68))
        print("matches core.face.facemesh.IBUG68_FROM_MESH:", same)
    derived = np.array([points68_from_mesh(m) for m in meshes], np.float64)
    iod = np.linalg.norm(dl[:, 42:48].mean(1) - dl[:, 36:42].mean(1), axis=1)
    err = np.linalg.norm(derived - dl, axis=2) / iod[:, None]  # [n, 68]
    print(f"mean distance to dlib's 68: {err.mean():.4f} IOD over {len(names)} images")
    for region, sl in REGIONS.items():
        print(f"  {region:6s} {err[:, sl].mean():.4f}")
    for name, e in zip(names, err, strict=True):
        print(f"  {name:40s} {e.mean():.4f}  (jaw {e[:17].mean():.3f}, rest {e[17:].mean():.3f})")
    images = [load_image(p) for p in portraits()]
    images = [im for img in images for im in (img, np.ascontiguousarray(img[:, ::-1]))]
    sel = slice(0, None, 2)  # the sheet shows the originals only
    sheet(names[sel], images[sel], derived[sel], dl[sel], args.sheet)
    print("sheet:", args.sheet)


if __name__ == "__main__":
    main()
