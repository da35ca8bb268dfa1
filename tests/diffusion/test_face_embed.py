"""ArcFace embedding path (core.diffusion.face_embed) on real portraits.

The real w600k_r50.onnx cannot be downloaded here, so the tests write small ONNX models
themselves, straight in protobuf wire format (no `onnx` package needed): a recognition-
shaped one (input.1 [N, 3, 112, 112] → [N, 512]) and decoys shaped like insightface's
detector / landmark / gender-age models. With a random network identity is meaningless, so
the tests assert what holds for any model: the right file is chosen by signature, the crop
is aligned to the template, the blob is normalised as insightface does, and the returned
vector is exactly the model's raw output.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort  # a hard dependency (pyproject): a plain import, never a skip
import pytest

from core.diffusion.face_embed import (
    ARCFACE_TEMPLATE,
    ArcFaceEmbedder,
    align_face,
    face_embedding_status,
    find_arcface_model,
    five_points,
    input_normalisation,
    load_arcface,
    similarity_transform,
)
from core.errors import InputError

# ------------------------------------------------------------- a tiny ONNX writer


def _vint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _int(num: int, v: int) -> bytes:
    return _vint(num << 3) + _vint(v)


def _ld(num: int, payload: bytes) -> bytes:
    return _vint((num << 3) | 2) + _vint(len(payload)) + payload


def _str(num: int, s: str) -> bytes:
    return _ld(num, s.encode())


def _tensor(name: str, arr: np.ndarray) -> bytes:
    dims = b"".join(_int(1, d) for d in arr.shape)
    return dims + _int(2, 1) + _str(8, name) + _ld(9, arr.astype("<f4").tobytes())


def _value_info(name: str, dims) -> bytes:
    shape = b"".join(_ld(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    return _str(1, name) + _ld(2, _ld(1, _int(1, 1) + _ld(2, shape)))


def _node(op: str, ins, outs, name: str, ints: dict | None = None) -> bytes:
    attrs = b""
    for key, vals in (ints or {}).items():
        if isinstance(vals, int):
            attrs += _ld(5, _str(1, key) + _int(3, vals) + _int(20, 2))
        else:
            attrs += _ld(5, _str(1, key) + b"".join(_int(8, v) for v in vals) + _int(20, 7))
    body = b"".join(_str(1, i) for i in ins) + b"".join(_str(2, o) for o in outs)
    return body + _str(3, name) + _str(4, op) + attrs


def write_model(path: Path, size: int, out_dim: int, seed: int = 0, mxnet: bool = False):
    """Conv(8×8, stride 8) → Flatten → Gemm: input.1 [N, 3, size, size] → [N, out_dim].

    `mxnet=True` prefixes the Sub/Mul normalisation nodes MXNet-converted models carry.
    """
    rng = np.random.default_rng(seed)
    cells = 4 * (size // 8) ** 2
    w = rng.normal(0, 0.05, (4, 3, 8, 8)).astype(np.float32)
    b = rng.normal(0, 0.05, (cells, out_dim)).astype(np.float32)
    c = rng.normal(0, 0.5, (out_dim,)).astype(np.float32)
    nodes, inits, x = [], [_tensor("conv_w", w), _tensor("fc_w", b), _tensor("fc_b", c)], "input.1"
    if mxnet:
        inits += [_tensor("mean", np.float32([127.5])), _tensor("scale", np.float32([1 / 128]))]
        nodes += [
            _node("Sub", [x, "mean"], ["s"], "_minus0"),
            _node("Mul", ["s", "scale"], ["m"], "_mul0"),
        ]
        x = "m"
    nodes += [
        _node("Conv", [x, "conv_w"], ["c"], "conv0", {"kernel_shape": [8, 8], "strides": [8, 8]}),
        _node("Flatten", ["c"], ["f"], "flat0", {"axis": 1}),
        _node("Gemm", ["f", "fc_w", "fc_b"], ["683"], "fc0"),
    ]
    graph = (
        b"".join(_ld(1, n) for n in nodes)
        + _str(2, "tiny")
        + b"".join(_ld(5, t) for t in inits)
        + _ld(11, _value_info("input.1", ["None", 3, size, size]))
        + _ld(12, _value_info("683", ["None", out_dim]))
    )
    model = _int(1, 8) + _str(2, "test") + _ld(7, graph) + _ld(8, _str(1, "") + _int(2, 13))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    return path


# ------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A weights folder laid out like Hallo's face_analysis/models/, with decoys.

    The recognition model has a neutral name, and a file named like it is a decoy, so the
    choice can only come from the signature.
    """
    root = tmp_path_factory.mktemp("weights")
    models = root / "face_analysis" / "models"
    write_model(models / "det_10g.onnx", 640, 10)  # detector-sized input
    write_model(models / "2d106det.onnx", 192, 212)  # 106-point landmark model
    write_model(models / "genderage.onnx", 96, 3)
    write_model(models / "w600k_r50.onnx", 112, 128)  # right input, wrong embedding size
    (models / "broken.onnx").write_bytes(b"\x08\x08garbage, not a protobuf" * 10)
    write_model(models / "recognition.onnx", 112, 512, seed=1)
    return root


@pytest.fixture(scope="module")
def embedder(weights) -> ArcFaceEmbedder:
    return ArcFaceEmbedder(weights / "face_analysis" / "models" / "recognition.onnx")


@pytest.fixture(scope="module")
def rigs(samples):
    from core.face import analyze
    from core.image import load_image

    return {
        name: analyze(load_image(samples / "portraits" / name))
        for name in ("hallo_2.jpg", "hallo_3.jpg")
    }


def _similar(image: np.ndarray, lm: np.ndarray, angle: float, scale: float, size: int):
    """The image rotated/scaled about its centre into a size×size canvas, and its points."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (size - w) / 2, (size - h) / 2
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR)
    return out, lm @ m[:, :2].T + m[:, 2]


# ------------------------------------------------------------- model discovery


def test_finds_recognition_model_by_signature_among_decoys(weights):
    found = find_arcface_model(weights)
    assert found is not None and found.name == "recognition.onnx"
    # given the face_analysis folder itself, and with the importer's flat layout
    assert find_arcface_model(weights / "face_analysis") == found


def test_flat_importer_layout_and_no_model(tmp_path):
    write_model(tmp_path / "w" / "face_analysis" / "w600k_r50.onnx", 112, 512)
    assert find_arcface_model(tmp_path / "w").name == "w600k_r50.onnx"
    write_model(tmp_path / "d" / "face_analysis" / "models" / "det_10g.onnx", 640, 10)
    assert find_arcface_model(tmp_path / "d") is None
    assert find_arcface_model(tmp_path / "missing") is None


def test_status_says_what_is_missing(weights, tmp_path):
    ok, where = face_embedding_status(weights)
    assert ok and where.endswith("recognition.onnx")

    ok, why = face_embedding_status(tmp_path)
    assert not ok and "face_analysis/models/*.onnx" in why and "falls back" in why

    write_model(tmp_path / "face_analysis" / "models" / "det_10g.onnx", 640, 10)
    ok, why = face_embedding_status(tmp_path)
    assert not ok and "112x112 -> 512" in why and "det_10g.onnx" in why and "falls back" in why


# ------------------------------------------------------------- bad model files


def test_corrupt_or_wrong_model_is_input_error(weights, tmp_path):
    models = weights / "face_analysis" / "models"
    with pytest.raises(InputError, match="broken.onnx: not a valid ONNX model"):
        ArcFaceEmbedder(models / "broken.onnx")
    with pytest.raises(InputError, match=r"w600k_r50.onnx: is not an ArcFace.*output"):
        ArcFaceEmbedder(models / "w600k_r50.onnx")
    with pytest.raises(InputError, match=r"det_10g.onnx: is not an ArcFace.*input"):
        ArcFaceEmbedder(models / "det_10g.onnx")
    with pytest.raises(InputError, match="not found"):
        ArcFaceEmbedder(tmp_path / "none.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="not a valid ONNX model"):
        ArcFaceEmbedder(empty)


def test_input_normalisation_follows_insightface(tmp_path):
    torch_style = write_model(tmp_path / "a.onnx", 112, 512)
    mxnet_style = write_model(tmp_path / "b.onnx", 112, 512, mxnet=True)
    assert input_normalisation(torch_style) == (127.5, 127.5)
    assert input_normalisation(mxnet_style) == (0.0, 1.0)
    assert ArcFaceEmbedder(mxnet_style).input_mean == 0.0


# ------------------------------------------------------------- alignment


def test_similarity_fit_matches_skimage_and_is_exact_on_template_shaped_points():
    """Our Umeyama equals skimage's SimilarityTransform (insightface's estimator)."""
    from skimage.transform import SimilarityTransform

    rng = np.random.default_rng(3)
    for _ in range(5):
        pts = rng.uniform(0, 500, (5, 2))
        ref = SimilarityTransform.from_estimate(pts, ARCFACE_TEMPLATE)
        np.testing.assert_allclose(
            similarity_transform(pts, ARCFACE_TEMPLATE), ref.params[:2], atol=1e-6
        )
    # points that ARE a similar copy of the template map onto it exactly
    m = cv2.getRotationMatrix2D((0, 0), 23.0, 3.1)
    pts = ARCFACE_TEMPLATE @ m[:, :2].T + (200.0, 150.0)
    fit = similarity_transform(pts, ARCFACE_TEMPLATE)
    np.testing.assert_allclose(pts @ fit[:, :2].T + fit[:, 2], ARCFACE_TEMPLATE, atol=1e-3)


@pytest.mark.parametrize("name", ["hallo_2.jpg", "hallo_3.jpg"])
def test_aligned_crop_puts_the_eyes_on_the_template(rigs, name):
    """dlib, run afresh on the warped pixels, finds the eyes on the template points.

    A 5-point similarity fit cannot hit every point of a real face: these portraits' eye
    spread / eye-to-mouth ratio is ~1.1 against the template's 0.87, so the eyes sit a few
    pixels off the template (up to ~5 px). The pixels must agree with the fit to ~2 px.
    """
    from core.face import landmarks_box, predict_landmarks

    rig = rigs[name]
    crop, m = align_face(rig.image, rig.landmarks)
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    mapped = five_points(rig.landmarks) @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped[:2] - ARCFACE_TEMPLATE[:2]).max() < 5.5
    # the image content: dlib on the (4x enlarged) crop finds the eyes there too
    big = cv2.resize(crop, (448, 448), interpolation=cv2.INTER_CUBIC)
    box = np.array(landmarks_box(rig.landmarks), dtype=np.float64).reshape(2, 2)
    corners = np.array([box[0], [box[1, 0], box[0, 1]], [box[0, 0], box[1, 1]], box[1]])
    warped = (corners @ m[:, :2].T + m[:, 2]) * 4
    hint = (*warped.min(0), *warped.max(0))
    lm = predict_landmarks(big, hint) / 4
    eyes = np.stack([lm[36:42].mean(0), lm[42:48].mean(0)])
    assert np.abs(eyes - mapped[:2]).max() < 2.0, (eyes, mapped[:2])
    assert np.abs(eyes - ARCFACE_TEMPLATE[:2]).max() < 6.0, eyes


def test_alignment_undoes_rotation_and_scale(rigs):
    rig = rigs["hallo_2.jpg"]
    crop, _ = align_face(rig.image, rig.landmarks)
    img2, lm2 = _similar(rig.image, rig.landmarks, angle=17.0, scale=0.7, size=600)
    crop2, m2 = align_face(img2, lm2)
    assert math.isclose(np.linalg.det(m2[:, :2]) ** 0.5, 1 / 0.7 * _scale(rig), rel_tol=1e-3)
    diff = np.abs(crop.astype(np.float32) - crop2.astype(np.float32))
    assert diff.mean() < 6.0, diff.mean()


def _scale(rig) -> float:
    _, m = align_face(rig.image, rig.landmarks)
    return float(np.linalg.det(m[:, :2]) ** 0.5)


# ------------------------------------------------------------- embedding


def test_embedding_is_the_raw_model_output_on_the_normalised_crop(embedder, rigs):
    rig = rigs["hallo_2.jpg"]
    emb = embedder.embed(rig.image, rig.landmarks)
    assert emb.shape == (512,) and emb.dtype == np.float32 and np.all(np.isfinite(emb))
    assert np.array_equal(emb, embedder.embed(rig.image, rig.landmarks))  # deterministic

    # the same computation done independently: RGB, NCHW, (x - 127.5) / 127.5, one run
    crop, _ = align_face(rig.image, rig.landmarks)
    x = ((crop.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
    sess = ort.InferenceSession(str(embedder.path), providers=["CPUExecutionProvider"])
    direct = sess.run(None, {"input.1": np.ascontiguousarray(x)})[0].reshape(-1)
    np.testing.assert_allclose(emb, direct, rtol=1e-5, atol=1e-5)
    # raw, not L2-normalised (Hallo feeds face["embedding"])
    assert abs(float(np.linalg.norm(emb)) - 1.0) > 0.5
    # a channel swap would change it: the model is fed RGB
    swapped = sess.run(None, {"input.1": np.ascontiguousarray(x[:, ::-1])})[0].reshape(-1)
    assert not np.allclose(emb, swapped, atol=1e-3)


def test_same_face_two_framings_closer_than_another_face(embedder, rigs):
    """With a random model this follows from crop similarity, not identity."""
    a = rigs["hallo_2.jpg"]
    img2, lm2 = _similar(a.image, a.landmarks, angle=-12.0, scale=1.3, size=700)
    e1 = embedder.embed(a.image, a.landmarks)
    e2 = embedder.embed(img2, lm2)
    e3 = embedder.embed(rigs["hallo_3.jpg"].image, rigs["hallo_3.jpg"].landmarks)
    assert np.linalg.norm(e1 - e2) < 0.5 * np.linalg.norm(e1 - e3)


def test_callable_detects_landmarks_and_load_arcface(weights, rigs, tmp_path):
    emb = load_arcface(weights)
    assert isinstance(emb, ArcFaceEmbedder) and "CPUExecutionProvider" in emb.providers
    rig = rigs["hallo_3.jpg"]
    via_call = emb(rig.image)  # landmarks detected by core.face
    direct = emb.embed(rig.image, rig.landmarks)
    assert via_call.shape == (512,)
    assert np.linalg.norm(via_call - direct) < 0.25 * np.linalg.norm(direct)
    assert load_arcface(tmp_path) is None
    with pytest.raises(InputError, match="no face"):
        emb(np.full((200, 200, 3), 128, np.uint8))
