"""core.face.analyze on the real sample portraits: detection, crop, landmarks, masks, ids."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core import face
from core.errors import InputError
from core.face.keypoints import five_from_68
from core.face.mesh import check_mesh, face_frame
from core.image import load_image

PORTRAITS = ["hallo_1.jpg", "hallo_2.jpg", "hallo_3.jpg", "hallo_5.jpg", "echomimic_a.png"]


@pytest.fixture(scope="module")
def images(samples):
    return {n: load_image(samples / "portraits" / n) for n in PORTRAITS}


@pytest.fixture(scope="module")
def rigs(images):
    return {n: face.analyze(a, source_path=n) for n, a in images.items()}


def _to_original(rig, pts):
    x0, y0, x1, _ = rig.crop
    s = rig.size[0] / (x1 - x0)
    return (np.asarray(pts, np.float64) + 0.5) / s - 0.5 + (x0, y0)


@pytest.mark.parametrize("name", PORTRAITS)
def test_every_sample_is_detected_and_rigged(rigs, images, name):
    rig = rigs[name]
    assert rig.source == "detected"
    assert rig.warnings == []
    w, h = rig.size
    assert w == h <= 1024 and rig.image.dtype == np.uint8 and rig.image.shape == (h, w, 3)
    # the rig shows a square of the original at most as large as the original
    x0, y0, x1, y1 = rig.crop
    assert x1 - x0 == y1 - y0 <= min(images[name].shape[:2])
    assert x0 >= 0 and x1 <= images[name].shape[1] and y0 >= 0 and y1 <= images[name].shape[0]
    # face framing: the jaw width is a sensible fraction of the rig
    lm = rig.landmarks
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    jaw_w = lm[:17, 0].max() - lm[:17, 0].min()
    assert 0.25 * w < jaw_w < 0.6 * w


@pytest.mark.parametrize("name", PORTRAITS)
def test_landmark_geometry(rigs, name):
    rig = rigs[name]
    lm = rig.landmarks.astype(np.float64)
    x0, y0, x1, y1 = rig.box
    mx, my = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
    inside = (lm[:, 0] > x0 - mx) & (lm[:, 0] < x1 + mx) & (lm[:, 1] > y0 - my) & (lm[:, 1] < y1 + my)
    assert inside.all(), np.nonzero(~inside)
    le, re = lm[36:42].mean(0), lm[42:48].mean(0)
    mouth = lm[48:68].mean(0)
    assert le[0] < re[0]  # iBUG 36-41 is the image-left eye
    assert max(le[1], re[1]) < lm[30, 1] < mouth[1] < lm[8, 1]  # eyes, nose, mouth, chin
    assert lm[17:27, 1].mean() < min(le[1], re[1])  # brows above eyes
    assert abs((le[0] + re[0]) / 2 - lm[30, 0]) < 0.3 * (re[0] - le[0])  # nose between eyes


def test_landmarks_map_back_to_original(rigs, images):
    """The crop transform is exact: rig landmarks ↔ landmarks found on the original."""
    for name in ("hallo_1.jpg", "hallo_3.jpg"):
        rig = rigs[name]
        direct = face.detect_landmarks(images[name])
        back = _to_original(rig, rig.landmarks)
        iod = face_frame(direct)[3]
        # rig landmarks were predicted on the original and transformed (lips may be merged)
        assert np.abs(back[:60] - direct[:60]).max() < 0.01 * iod


@pytest.mark.parametrize("name", PORTRAITS)
def test_mesh_is_valid(rigs, name):
    rig = rigs[name]
    w, h = rig.size
    assert rig.mesh_points.dtype == np.float32 and rig.triangles.dtype == np.int32
    assert np.array_equal(rig.mesh_points[:68], rig.landmarks)
    assert check_mesh(rig.mesh_points, rig.triangles, (w, h)) == []
    # every vertex is used; rasterised coverage leaves no pixel uncovered
    assert set(np.unique(rig.triangles)) == set(range(len(rig.mesh_points)))
    cover = np.zeros((h, w), np.uint8)
    for t in rig.triangles:
        cv2.fillConvexPoly(cover, np.round(rig.mesh_points[t] * 16).astype(np.int32), 1, 8, 4)
    assert cover[1:-1, 1:-1].all()
    groups = rig.mesh_groups
    assert list(groups["landmarks"]) == list(range(68))
    assert len(groups["border"]) == 20 and len(groups["forehead"]) >= 3
    assert sum(len(v) for v in groups.values()) == len(rig.mesh_points)


@pytest.mark.parametrize("name", PORTRAITS)
def test_masks(rigs, name):
    rig = rigs[name]
    w, h = rig.size
    m = rig.masks
    assert {"face", "mouth", "mouth_inner", "eyes"} <= set(m)
    for k, v in m.items():
        assert v.shape == (h, w) and v.dtype == np.float32, k
        assert v.min() >= 0 and v.max() <= 1, k
    lm = rig.landmarks

    def at(mask, p):
        return float(m[mask][int(round(p[1])), int(round(p[0]))])

    mouth_c = (lm[48] + lm[54] + lm[51] + lm[57]) / 4
    assert at("mouth", mouth_c) > 0.9 and at("eyes", mouth_c) < 0.05
    ys, xs = np.nonzero(m["mouth"] > 0.5)
    iod = face_frame(lm)[3]
    assert abs(xs.mean() - (lm[48, 0] + lm[54, 0]) / 2) < 0.05 * iod  # centred between corners
    for eye in (lm[36:42].mean(0), lm[42:48].mean(0)):
        assert at("eyes", eye) > 0.9 and at("mouth", eye) < 0.05
    assert at("face", lm[30]) > 0.99 and at("face", lm[29]) > 0.99
    assert m["face"][0, 0] == 0 and m["face"][-1, -1] == 0
    assert m["eyes"].sum() < m["face"].sum() and m["mouth"].sum() < m["face"].sum()
    # feathered: some values strictly between 0 and 1
    assert ((m["face"] > 0.05) & (m["face"] < 0.95)).sum() > 0


def test_several_faces_largest_is_chosen(images):
    a = images["hallo_3.jpg"]
    big = cv2.resize(a, (600, 600), interpolation=cv2.INTER_AREA)
    small = cv2.resize(a, (300, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((600, 900, 3), 90, np.uint8)
    canvas[:, 300:] = big
    canvas[150:450, :300] = small
    rig = face.analyze(canvas)
    assert len(rig.warnings) == 1 and "2 faces found" in rig.warnings[0]
    assert rig.crop[0] >= 250  # the crop sits on the big (right) face
    assert _to_original(rig, rig.landmarks)[30, 0] > 300


def test_no_face_message_then_five_points_rig(images):
    """No face (only hair): clear error. A face rolled by 60° escapes dlib's frontal
    detector but BlazeFace finds it; user points work there too."""
    a = images["hallo_5.jpg"]
    with pytest.raises(InputError) as e:
        face.analyze(np.ascontiguousarray(a[:150]), source_path="hair.jpg")
    msg = str(e.value)
    assert msg.startswith("hair.jpg: no face found") and "--landmarks" in msg
    assert "5 points" in msg and "\n" not in msg

    h, w = a.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 60, 1.0)
    turned = cv2.warpAffine(a, rot, (w, h), borderMode=cv2.BORDER_REFLECT)
    assert face.detect_faces(turned, fallback=False) == []
    found = face.analyze(turned, source_path="turned.jpg")
    assert found.source == "detected" and found.mesh3d is not None
    _, ex, _, _ = face_frame(found.landmarks)
    assert abs(np.degrees(np.arctan2(ex[1], ex[0])) + 60) < 5

    five = five_from_68(face.detect_landmarks(a))
    five_turned = five @ rot[:, :2].T + rot[:, 2]
    rig = face.analyze(turned, landmarks=five_turned, source_path="turned.jpg")
    assert rig.source == "user5"
    assert check_mesh(rig.mesh_points, rig.triangles, rig.size) == []
    # the fitted 68 points carry the user's 5 points exactly, in rig pixels
    assert np.abs(_to_original(rig, five_from_68(rig.landmarks)) - five_turned).max() < 0.05
    # the face is rolled: eye line at -60° (counter-clockwise on screen)
    _, ex, _, _ = face_frame(rig.landmarks)
    assert abs(np.degrees(np.arctan2(ex[1], ex[0])) + 60) < 3


def test_user_68_points_used_as_is(images):
    a = images["hallo_2.jpg"]
    lm = face.detect_landmarks(a)
    rig = face.analyze(a, landmarks=lm)
    assert rig.source == "user68"
    assert np.abs(_to_original(rig, rig.landmarks)[:60] - lm[:60]).max() < 1e-3


def test_bad_user_points_are_input_errors(images):
    a = images["hallo_2.jpg"]
    five = five_from_68(face.detect_landmarks(a))
    with pytest.raises(InputError, match="mirrored"):
        face.analyze(a, landmarks=five[[1, 0, 2, 4, 3]], source_path="p.jpg")
    with pytest.raises(InputError, match="outside"):
        face.analyze(a, landmarks=five + 1000, source_path="p.jpg")
    with pytest.raises(InputError, match="5 or 68"):
        face.analyze(a, landmarks=five[:4], source_path="p.jpg")
    with pytest.raises(InputError, match="apart"):
        face.analyze(a, landmarks=np.tile(five[:1], (5, 1)) + np.arange(5)[:, None], source_path="p")


def test_detect_landmarks_and_box_hint(images):
    a = images["echomimic_a.png"]
    lm = face.detect_landmarks(a)
    assert lm is not None and lm.shape == (68, 2)
    hinted = face.detect_landmarks(a, box_hint=face.landmarks_box(lm))
    iod = face_frame(lm)[3]
    assert np.abs(hinted - lm).max() < 0.15 * iod
    assert face.detect_landmarks(np.full((300, 300, 3), 127, np.uint8)) is None


def test_face_descriptor_identity(rigs, images):
    d = {n: face.face_descriptor(r.image, r.landmarks) for n, r in rigs.items()}
    for n, v in d.items():
        assert v.shape == (128,) and v.dtype == np.float32
        # same face in the original image (other scale, other crop) → small distance
        orig = face.face_descriptor(images[n], face.detect_landmarks(images[n]))
        assert np.linalg.norm(orig - v) < 0.2, n
    names = list(d)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.linalg.norm(d[a] - d[b]) > 0.55, (a, b)


def test_detection_passes_agree(images):
    """Upsampled and padded passes map their boxes back to the same face."""
    a = images["hallo_1.jpg"]
    ref = face.detect_faces(a, passes=((0, 0),))[0].box
    for passes in (((1, 0),), ((0, 25),)):
        box = face.detect_faces(a, passes=passes)[0].box
        ix = max(0.0, min(ref[2], box[2]) - max(ref[0], box[0]))
        iy = max(0.0, min(ref[3], box[3]) - max(ref[1], box[1]))
        union = (ref[2] - ref[0]) * (ref[3] - ref[1]) + (box[2] - box[0]) * (box[3] - box[1])
        assert ix * iy / (union - ix * iy) > 0.6, (passes, ref, box)
