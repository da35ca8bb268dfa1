"""Run checkpoints, all safetensors + JSON (nothing is unpickled, even the run's own state).

A checkpoint folder `checkpoints/step-NNNNNNN/` holds
    trainable.safetensors   the trained parameters ({component}.{name})
    optimizer.safetensors   AdamW moments and step counts (state.{i}.{key})
    ema.safetensors         the EMA copies (when EMA is on)
    rng.safetensors         torch CPU (and CUDA) RNG states as uint8 tensors
    state.json              step, optimizer param groups, LR-scheduler and grad-scaler state,
                            Python/numpy RNG states, the run config
written into a temporary folder and renamed, so a checkpoint exists completely or not at
all. The data order and the noise need no saved state (they are functions of seed and step,
see core.training.dataset), which is what makes the resume exact.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from core.errors import InputError

_NAME = re.compile(r"^step-(\d{7})$")


def save_weights(named: dict[str, object], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().to("cpu").contiguous() for k, v in named.items()}, str(path))


def optimizer_tensors(opt) -> tuple[dict, dict]:
    """(tensors, json) of an optimizer's state_dict."""
    import torch

    sd = opt.state_dict()
    tensors = {}
    for i, st in sd["state"].items():
        for k, v in st.items():
            if not isinstance(v, torch.Tensor):
                v = torch.tensor(v)
            tensors[f"state.{i}.{k}"] = v.detach().cpu().contiguous()
    return tensors, {"param_groups": sd["param_groups"]}


def optimizer_state(tensors: dict, meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        _, i, k = key.split(".", 2)
        state.setdefault(int(i), {})[k] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_states() -> tuple[dict, dict]:
    import torch

    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = s
    py = random.getstate()
    np_state = np.random.get_state()
    meta = {"python": [py[0], list(py[1]), py[2]],
            "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]]}
    return tensors, meta


def restore_rng(tensors: dict, meta: dict) -> None:
    import torch

    torch.set_rng_state(tensors["torch_cpu"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = meta["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), *n[2:]))


def write(run: Path, step: int, params: dict, opt, ema: dict | None, state: dict) -> Path:
    """Write checkpoint `step` atomically; returns its folder."""
    from safetensors.torch import save_file

    root = run / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".step-", dir=root))
    try:
        save_weights(params, tmp / "trainable.safetensors")
        ot, ometa = optimizer_tensors(opt)
        save_file(ot, str(tmp / "optimizer.safetensors"))
        if ema is not None:
            save_weights(ema, tmp / "ema.safetensors")
        rt, rmeta = rng_states()
        save_file(rt, str(tmp / "rng.safetensors"))
        full = dict(state, step=step, optimizer=ometa, rng=rmeta)
        (tmp / "state.json").write_text(json.dumps(full, indent=1))
        final = root / f"step-{step:07d}"
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def latest(run: Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or None."""
    root = run / "checkpoints"
    if not root.is_dir():
        return None
    found = sorted(p for p in root.iterdir() if _NAME.match(p.name)
                   and (p / "state.json").is_file())
    return found[-1] if found else None


def prune(run: Path, keep: int = 2) -> None:
    """Delete all but the `keep` newest checkpoints (and stale temporary folders)."""
    root = run / "checkpoints"
    found = sorted(p for p in root.iterdir() if _NAME.match(p.name))
    for p in found[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(".step-*"):
        shutil.rmtree(p, ignore_errors=True)


def read(folder: Path) -> tuple[dict, dict, dict, dict | None, dict]:
    """(state, trainable, optimizer state_dict, ema or None, rng tensors) of a checkpoint."""
    from safetensors.torch import load_file

    try:
        state = json.loads((folder / "state.json").read_text())
        params = load_file(str(folder / "trainable.safetensors"))
        opt = optimizer_state(load_file(str(folder / "optimizer.safetensors")),
                              state["optimizer"])
        ema = load_file(str(folder / "ema.safetensors")) if (folder / "ema.safetensors"
                                                             ).is_file() else None
        rng = load_file(str(folder / "rng.safetensors"))
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is one clear line
        raise InputError(folder, f"is not a readable checkpoint ({exc})") from None
    return state, params, opt, ema, rng
