"""Engine inputs (FaceRig, AudioFeatures, MotionTrack) rebuilt from a prepared clip, so a
validation render goes through exactly the path the engine uses (`MagicTalkPipeline.stream`)
with the clip's first frame as the portrait and its tracked landmarks as the motion."""

from __future__ import annotations

import numpy as np

from core.types import AudioFeatures, FaceRig, MotionTrack


def clip_inputs(clip, reference: int = 0) -> tuple[FaceRig, AudioFeatures, MotionTrack]:
    from core.face import landmarks_box

    lms = np.asarray(clip.tensors["landmarks"], np.float32)
    image = clip.image(reference)
    lm = lms[reference]
    rig = FaceRig(
        image=image, box=landmarks_box(lm), landmarks=lm, mesh_points=lm.copy(),
        triangles=np.zeros((0, 3), np.int32),
        masks={"face": clip.face[reference].astype(np.float32) / 255.0,
               "mouth": clip.lip[reference].astype(np.float32) / 255.0},
        source="detected")
    n = clip.frames
    t = clip.tensors
    z = np.zeros(n, np.float32)
    # the inner-lip gap over the face height: what MotionTrack.mouth_open means
    face_h = np.maximum(lms[:, 8, 1] - lms[:, 19:25, 1].min(1), 1.0)
    mouth = np.clip((lms[:, 66, 1] - lms[:, 62, 1]) / face_h, 0, None).astype(np.float32)
    motion = MotionTrack(
        fps=clip.fps, mouth_open=mouth, mouth_width=z, jaw=mouth * 0.5, blink=z,
        gaze=np.zeros((n, 2), np.float32), head_pose=np.asarray(t["head_pose"], np.float32),
        head_shift=np.zeros((n, 2), np.float32), smile=z, brows=z, landmarks=lms)
    return rig, clip.features(), motion
