"""Safe loading of checkpoint files: safetensors, or pickles restricted to plain tensors.

Pickled `.pth` / `.ckpt` files are opened with `torch.load(weights_only=True)`, which refuses
any pickle that would import or call code (a GLOBAL to `os.system`, a custom class): such a
file is reported as an InputError, never unpickled.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from core.errors import InputError

PICKLE_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin"}


def load_state_dict(path: str | Path, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """{key: tensor} from `path`; unwraps `{"state_dict": {...}}` (AnimateDiff style).

    Raises InputError naming the file for: missing file, code in a pickle, a file that is
    not a checkpoint, or contents that are not a flat mapping of names to tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} not found")
    if path.suffix == ".safetensors":
        obj = _load_safetensors(path, what)
    else:
        obj = _load_pickle(path, what)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise InputError(path, f"{what} holds a {type(obj).__name__}, not a state dict of tensors")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise InputError(
            path, f"{what} is not a state dict of tensors (entry {bad[0]!r} is not a tensor)"
        )
    return obj


def _load_safetensors(path: Path, what: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(path, f"{what} is not a readable safetensors file ({exc})") from None


def _load_pickle(path: Path, what: str) -> object:
    def load(mmap: bool):
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)

    try:
        try:
            return load(mmap=True)
        except RuntimeError as exc:
            # Legacy (non-zip) torch.save files cannot be memory-mapped: read them normally.
            if "mmap" not in str(exc) and "zipfile" not in str(exc):
                raise
            return load(mmap=False)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()
        detail = next((ln for ln in first if "GLOBAL" in ln or "Unsupported" in ln), "")
        raise InputError(
            path,
            f"{what} contains code or non-tensor objects and was refused (weights-only load"
            f"{': ' + detail.strip() if detail else ''}); use a plain tensor state dict",
        ) from None
    except Exception as exc:  # any other failure: the bytes are not a torch checkpoint
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"{what} is not a PyTorch checkpoint ({msg})") from None
