"""Portrait analysis: face detection, Face Mesh + 68 landmarks, warp mesh, region masks.

    analyze(image, landmarks=None)  -> FaceRig (square rig image; see core.face.rig)
    find_face(image) -> (Detection, FaceMesh, warnings) | None  (HOG, BlazeFace fallback)
    mesh_from_box(image, box) -> FaceMesh | None                (468 points with depth, iris)
    points68_from_mesh(points) -> [68, 2]                       (iBUG-68 layout)
    detect_landmarks(image, box_hint=None) -> [68, 2] | None   (fast, for video frames)
    track_landmarks(frames, check_every=10) -> [68, 2] | None per frame (one face in a video)
    face_descriptor(image, landmarks) -> [128]                  (dlib identity vector)
    load_landmarks_json(path) -> [5 | 68, 2]                    (user points for paintings)

Models are loaded lazily, once per process (core.face.detect, core.face.facemesh).
"""

from core.face.detect import (
    detect_faces,
    detect_landmarks,
    face_descriptor,
    find_face,
    landmarks_box,
    predict_landmarks,
    track_landmarks,
)
from core.face.facemesh import mesh_from_box, points68_from_mesh
from core.face.keypoints import fit_68_from_5, load_landmarks_json, validate_landmarks
from core.face.mesh import mouth_interior
from core.face.rig import analyze

__all__ = [
    "analyze",
    "detect_faces",
    "detect_landmarks",
    "face_descriptor",
    "find_face",
    "fit_68_from_5",
    "landmarks_box",
    "load_landmarks_json",
    "mesh_from_box",
    "mouth_interior",
    "points68_from_mesh",
    "predict_landmarks",
    "track_landmarks",
    "validate_landmarks",
]
