"""Portrait analysis: face detection, 68 landmarks, warp mesh and region masks.

    analyze(image, landmarks=None)  -> FaceRig (square rig image; see core.face.rig)
    detect_landmarks(image, box_hint=None) -> [68, 2] | None   (fast, for video frames)
    face_descriptor(image, landmarks) -> [128]                  (dlib identity vector)
    load_landmarks_json(path) -> [5 | 68, 2]                    (user points for paintings)

dlib models are loaded lazily, once per process (core.face.detect).
"""

from core.face.detect import (
    detect_faces,
    detect_landmarks,
    face_descriptor,
    landmarks_box,
    predict_landmarks,
)
from core.face.keypoints import fit_68_from_5, load_landmarks_json, validate_landmarks
from core.face.mesh import mouth_interior
from core.face.rig import analyze

__all__ = [
    "analyze",
    "detect_faces",
    "detect_landmarks",
    "face_descriptor",
    "fit_68_from_5",
    "landmarks_box",
    "load_landmarks_json",
    "mouth_interior",
    "predict_landmarks",
    "validate_landmarks",
]
