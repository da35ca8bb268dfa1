"""ArcFace identity embedding for Hallo's image projector, computed with onnxruntime.

Hallo's `ImageProj` (clip_embeddings_dim 512) was trained on the output of insightface's
ArcFace recognition model (`w600k_r50.onnx` in the "buffalo_l" pack Hallo ships under
`pretrained_models/face_analysis/models/`). To feed it what it was trained on we reproduce
insightface's recognition path without depending on insightface:

1. five key points (eye centres, nose tip, mouth corners), here derived from our dlib 68
   landmarks instead of insightface's SCRFD detector;
2. a least-squares similarity transform (Umeyama) onto the standard 112×112 ArcFace
   template, then a bilinear warp with a black border (what `face_align.norm_crop` does);
3. the blob insightface builds: RGB, NCHW float32, (x - 127.5) / 127.5 — except for
   MXNet-converted models, whose graph starts with its own Sub/Mul nodes and takes raw 0..255;
4. the RAW network output. Hallo's `ImageProcessor.preprocess` (hallo/datasets/
   image_processor.py, step "2.2 face embedding") passes `face["embedding"]`, not
   `face.normed_embedding`, on to `ImageProj`; a unit-norm vector would be ~20× too small
   for what the projector saw in training. (Hallo uses zeros(512) when no face is found.)

Public API:
    find_arcface_model(folder) -> Path | None
    ArcFaceEmbedder(onnx_path).embed(image_rgb, landmarks68) -> [512] float32
    face_embedding_status(weights_dir) -> (True, path) | (False, what is missing)
    load_arcface(folder) -> ArcFaceEmbedder | None
"""

from __future__ import annotations

import mmap
import re
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.errors import InputError

ARCFACE_SIZE = 112
EMBED_DIM = 512

#: insightface's `arcface_src`: where the 5 key points land in the 112×112 crop
#: (image-left eye, image-right eye, nose tip, image-left mouth corner, image-right one).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

_RECOG_HINT = re.compile(r"w600k|r50|r100|glint|arcface|recog", re.IGNORECASE)
_FALLBACK = "the engine falls back to dlib's 128-d face descriptor lifted to 512-d"


# ---------------------------------------------------------------- key points and alignment


def five_points(landmarks68: np.ndarray) -> np.ndarray:
    """[5, 2] ArcFace key points from iBUG-68 landmarks.

    dlib's 36-41 is the eye on the image's left (the subject's right eye), which is the
    template's first point; 30 is the nose tip; 48/54 the outer mouth corners.
    """
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"expected finite [68, 2] landmarks, got shape {lm.shape}")
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]]).astype(
        np.float32
    )


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """[2, 3] least-squares similarity (rotation, uniform scale, translation) src → dst.

    Umeyama's closed form, the same estimate skimage's SimilarityTransform gives
    insightface. Not cv2.estimateAffinePartial2D: that one is RANSAC by default, so a
    slightly off point would be dropped instead of averaged in.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    if var_s < 1e-12:
        raise ValueError("key points are degenerate (all at one place)")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1.0
    rot = u @ fix @ vt
    scale = (sig * np.diag(fix)).sum() / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align_face(image_rgb: np.ndarray, landmarks68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(crop [112, 112, 3] uint8 RGB, M [2, 3]) — the face warped onto the ArcFace template."""
    img = np.asarray(image_rgb)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an [H, W, 3] RGB image, got shape {img.shape}")
    m = similarity_transform(five_points(landmarks68), ARCFACE_TEMPLATE)
    crop = cv2.warpAffine(
        img, m, (ARCFACE_SIZE, ARCFACE_SIZE), flags=cv2.INTER_LINEAR, borderValue=0
    )
    return crop, m


# ---------------------------------------------------------------- model discovery


def _dims(shape) -> list[int | None]:
    """onnxruntime shape → ints, None for symbolic/unknown dims (e.g. a dynamic batch)."""
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


def _signature_problem(session) -> str | None:
    """None when the session is a recognition model (1×3×112×112 float → 1×512)."""
    ins, outs = session.get_inputs(), session.get_outputs()
    if len(ins) != 1 or len(outs) != 1:
        return f"has {len(ins)} inputs and {len(outs)} outputs, a recognition model has 1 and 1"
    i, o = _dims(ins[0].shape), _dims(outs[0].shape)
    if "float" not in ins[0].type or len(i) != 4 or i[1:] != [3, ARCFACE_SIZE, ARCFACE_SIZE]:
        return f"input is {ins[0].type} {ins[0].shape}, expected float [1, 3, 112, 112]"
    if len(o) != 2 or o[1] != EMBED_DIM or i[0] not in (None, 1) or o[0] not in (None, 1):
        return f"output is {outs[0].shape}, expected [1, {EMBED_DIM}]"
    return None


def _providers() -> list[str]:
    import onnxruntime as ort

    have = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]


def _open_session(path: Path):
    """An onnxruntime session, or InputError naming the file when it is not a valid model."""
    import onnxruntime as ort

    if not path.is_file():
        raise InputError(path, "ArcFace model file not found")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # no warnings on stderr for decoys/corrupt files
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=_providers())
    except Exception as e:  # onnxruntime raises several private exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(
            path, f"not a valid ONNX model ({first[:160]}); re-copy face_analysis/ from Hallo"
        ) from None


def _model_dirs(folder: Path) -> list[Path]:
    """Where the ONNX files may be: Hallo's `face_analysis/models/`, the importer's flat
    `face_analysis/`, or `folder` itself / its `models/` when given face_analysis directly."""
    return [
        folder / "face_analysis" / "models",
        folder / "face_analysis",
        folder / "models",
        folder,
    ]


@lru_cache(maxsize=64)
def _is_recognition_model(path: str, mtime_ns: int, size: int) -> bool:
    try:
        return _signature_problem(_open_session(Path(path))) is None
    except InputError:
        return False


def find_arcface_model(folder: str | Path) -> Path | None:
    """The recognition ONNX under `folder` (a weights folder or a face_analysis folder).

    Chosen by signature, not name: insightface's own router tells models apart by input
    size the same way (640 detector, 192 landmarks, 96 gender/age, 112 → 512 ArcFace).
    Each candidate is opened once per (path, mtime, size); the result is cached.
    """
    folder = Path(folder)
    seen: set[Path] = set()
    for d in _model_dirs(folder):
        if not d.is_dir():
            continue
        # likely names first (only an ordering: the signature still decides), so a
        # buffalo_l folder does not open its 17 MB detector before the recognition model
        for f in sorted(d.glob("*.onnx"), key=lambda f: (not _RECOG_HINT.search(f.name), f.name)):
            rp = f.resolve()
            if rp in seen or not f.is_file():
                continue
            seen.add(rp)
            st = f.stat()
            if _is_recognition_model(str(rp), st.st_mtime_ns, st.st_size):
                return f
    return None


def face_embedding_status(weights_dir: str | Path) -> tuple[bool, str]:
    """(True, model path) or (False, one sentence saying what is missing and the fallback)."""
    w = Path(weights_dir)
    model = find_arcface_model(w)
    if model is not None:
        return True, str(model)
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False, f"onnxruntime is not installed, so ArcFace cannot run; {_FALLBACK}"
    onnx = [f for d in _model_dirs(w) if d.is_dir() for f in d.glob("*.onnx")]
    if not onnx:
        return False, (
            f"no face_analysis/models/*.onnx in {w} (copy Hallo's pretrained_models/"
            f"face_analysis there); {_FALLBACK}"
        )
    names = ", ".join(sorted({f.name for f in onnx}))
    return False, (
        f"no 112x112 -> 512 ArcFace recognition model among the ONNX files in {w} ({names}); "
        f"add w600k_r50.onnx from insightface's buffalo_l pack; {_FALLBACK}"
    )


# ---------------------------------------------------------------- MXNet input convention


def _varint(buf, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, pos
        shift += 7
        if shift > 63:
            raise ValueError("bad varint")


def _fields(buf, start: int, end: int):
    """(field number, wire type, value or (begin, end) of a length-delimited field)."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
            yield num, wt, val
        elif wt == 2:
            n, pos = _varint(buf, pos)
            yield num, wt, (pos, pos + n)
            pos += n
        elif wt == 1:
            pos += 8
        elif wt == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")


def _first_node_names(path: Path, count: int = 8) -> list[str]:
    """Names of the graph's first `count` nodes, read straight from the protobuf.

    Only ModelProto.graph (7) → GraphProto.node (1) → NodeProto.name (3) is walked, over an
    mmap, so a 170 MB model costs a few page reads and no `onnx` package is needed.
    """
    names: list[str] = []
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for num, wt, val in _fields(buf, 0, len(buf)):
            if num != 7 or wt != 2:
                continue
            for gnum, gwt, gval in _fields(buf, *val):
                if gnum != 1 or gwt != 2:
                    continue
                name = ""
                for nnum, nwt, nval in _fields(buf, *gval):
                    if nnum == 3 and nwt == 2:
                        name = bytes(buf[nval[0] : nval[1]]).decode("utf-8", "replace")
                names.append(name)
                if len(names) >= count:
                    return names
            return names
    return names


def input_normalisation(path: str | Path) -> tuple[float, float]:
    """(mean, std) insightface applies for this model: MXNet-converted ArcFace models start
    with Sub and Mul nodes that normalise inside the graph, so they get raw pixels (0, 1);
    the others (buffalo_l's w600k_r50 among them) get (127.5, 127.5)."""
    try:
        names = _first_node_names(Path(path))
    except (ValueError, IndexError, OSError):
        names = []
    has_sub = any(n.startswith(("Sub", "_minus")) for n in names)
    has_mul = any(n.startswith(("Mul", "_mul")) for n in names)
    return (0.0, 1.0) if has_sub and has_mul else (127.5, 127.5)


# ---------------------------------------------------------------- the embedder


class ArcFaceEmbedder:
    """insightface's ArcFace recognition model run with onnxruntime on dlib landmarks.

    Also callable as `embedder(image_rgb, landmarks68=None)`; without landmarks they are
    detected with core.face (the shape core.diffusion.conditioning's `arcface` hook expects).
    """

    def __init__(self, onnx_path: str | Path):
        self.path = Path(onnx_path)
        self.session = _open_session(self.path)
        problem = _signature_problem(self.session)
        if problem is not None:
            raise InputError(
                self.path, f"is not an ArcFace recognition model: {problem} (use w600k_r50.onnx)"
            )
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.input_mean, self.input_std = input_normalisation(self.path)

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def blob(self, crop_rgb: np.ndarray) -> np.ndarray:
        """[1, 3, 112, 112] float32 network input from an aligned RGB crop.

        insightface hands the model RGB (its `blobFromImages(..., swapRB=True)` on a BGR
        frame); our images are RGB already, so no channel swap here.
        """
        x = crop_rgb.astype(np.float32)
        x = (x - np.float32(self.input_mean)) / np.float32(self.input_std)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def run(self, blob: np.ndarray) -> np.ndarray:
        """[512] float32 raw embedding of one prepared blob."""
        out = self.session.run([self.output_name], {self.input_name: blob})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def embed(self, image_rgb: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
        """[512] float32 RAW (not L2-normalised) embedding, as Hallo feeds ImageProj."""
        crop, _ = align_face(image_rgb, landmarks68)
        return self.run(self.blob(crop))

    def __call__(self, image_rgb: np.ndarray, landmarks68: np.ndarray | None = None):
        if landmarks68 is None:
            from core.face import detect_landmarks

            landmarks68 = detect_landmarks(image_rgb)
            if landmarks68 is None:
                raise InputError(None, "no face found for the ArcFace identity embedding")
        return self.embed(image_rgb, landmarks68)


def load_arcface(folder: str | Path) -> ArcFaceEmbedder | None:
    """The embedder for a weights (or face_analysis) folder, or None when it has no model."""
    model = find_arcface_model(folder)
    return None if model is None else ArcFaceEmbedder(model)
