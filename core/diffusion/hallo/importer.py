"""Import Hallo's released weights (`pretrained_models/`) into a MagicTalk weights folder.

Input layout (Hallo's download):
  hallo/net.pth                     Net state dict (reference_unet., denoising_unet., ...)
  motion_module/mm_sd_v15_v2.ckpt   AnimateDiff v2 motion modules (loaded first; net wins)
  sd-vae-ft-mse/                    diffusers AutoencoderKL folder
  stable-diffusion-v1-5/unet/       config.json (+ weights: seeds the text adapter)
  stable-diffusion-v1-5/text_encoder, tokenizer (optional, copied)
  wav2vec/wav2vec2-base-960h/       (optional, copied)
  face_analysis/models/             (optional, *.onnx copied)

Output (diffusers layout, read by `MagicTalkPipeline.from_pretrained`): `model_index.json`
and one subfolder per component with `config.json` + `diffusion_pytorch_model.safetensors`.
The folder is built beside `out_dir` and renamed into place only when complete.

The key check is strict like Hallo's own `load_state_dict(strict=True)`: every key of the
five modules present, nothing extra, every shape equal. Expected keys come from the module
tree built on the `meta` device, so checking and writing never materialise a second copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from core.errors import InputError
from core.types import ProgressFn

from ..models import AnimateNet, AudioProj, FaceLocator, ImageProj, ReferenceNet, TextAdapter
from .checkpoint import load_state_dict
from .keys import (
    HALLO_AUDIO_PROJ,
    HALLO_FACE_LOCATOR,
    HALLO_IMAGE_PROJ,
    HALLO_UNET_ADDITIONAL_KWARGS,
    MOTION_PREFIX,
    module_key_table,
    split_by_component,
)

HALLO_COMPONENTS = ("reference_net", "animate_net", "face_locator", "image_proj", "audio_proj")
MODULES_LIBRARY = "core.diffusion.models"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"


@dataclass
class HalloConfig:
    """Constructor settings of the five Hallo modules."""

    reference_unet: dict
    denoising_unet: dict
    additional_kwargs: dict = field(default_factory=lambda: dict(HALLO_UNET_ADDITIONAL_KWARGS))
    face_locator: dict = field(default_factory=lambda: dict(HALLO_FACE_LOCATOR))
    imageproj: dict = field(default_factory=lambda: dict(HALLO_IMAGE_PROJ))
    audioproj: dict = field(default_factory=lambda: dict(HALLO_AUDIO_PROJ))

    @classmethod
    def from_sd15_unet_config(cls, unet_config: dict) -> HalloConfig:
        """The released configuration: SD1.5 unet config + Hallo's inference settings.

        The denoiser config is the 2D one rewritten the way Hallo's `from_pretrained_2d`
        does (3D block types); image-proj width follows the UNet's cross-attention width.
        """
        den = dict(unet_config)
        den["down_block_types"] = [t.replace("2D", "3D") for t in unet_config["down_block_types"]]
        den["up_block_types"] = [t.replace("2D", "3D") for t in unet_config["up_block_types"]]
        den["mid_block_type"] = "UNetMidBlock3DCrossAttn"
        improj = dict(HALLO_IMAGE_PROJ, cross_attention_dim=unet_config["cross_attention_dim"])
        locator = dict(
            HALLO_FACE_LOCATOR, conditioning_embedding_channels=unet_config["block_out_channels"][0]
        )
        return cls(dict(unet_config), den, imageproj=improj, face_locator=locator)

    @classmethod
    def from_fixture_config(cls, cfg: dict, full_size: bool = False) -> HalloConfig:
        """From hallo_tiny's config.json (its tiny section, or its `full_size` section)."""
        src = cfg["full_size"] if full_size else cfg
        return cls(
            reference_unet=src["reference_unet"],
            denoising_unet=src["denoising_unet"],
            additional_kwargs=src["denoising_unet_additional_kwargs"],
            face_locator=src["face_locator"],
            imageproj=src["imageproj"],
            audioproj=src["audioproj"],
        )


def build_modules(config: HalloConfig, device: str | torch.device | None = None) -> dict:
    """{component: module} for the five Hallo modules (on `device`, e.g. "meta")."""
    ctx = torch.device(device) if device is not None else contextlib.nullcontext()
    with ctx:
        return {
            "reference_net": ReferenceNet.from_unet_config(config.reference_unet),
            "animate_net": AnimateNet.from_hallo_config(
                config.denoising_unet, config.additional_kwargs
            ),
            "face_locator": FaceLocator(**config.face_locator),
            "image_proj": ImageProj(**config.imageproj),
            "audio_proj": AudioProj(**config.audioproj),
        }


def merge_hallo_state(
    modules: Mapping[str, nn.Module],
    net_sd: Mapping[str, torch.Tensor],
    motion_sd: Mapping[str, torch.Tensor] | None = None,
    net_name: str | Path = "net.pth",
    motion_name: str | Path = "mm_sd_v15_v2.ckpt",
) -> dict[str, dict[str, torch.Tensor]]:
    """Check both files strictly against `modules` and return per-component state dicts.

    Hallo's order: the motion-module file is merged into the denoiser first, then `net` is
    loaded strictly and overrides it. InputError (naming the file) on any missing or
    unexpected key or any shape difference; the first few offenders are listed.
    """
    expected = {e.key: e for e in module_key_table(modules)}
    if motion_sd is not None:
        motion_keys = {MOTION_PREFIX + k: v for k, v in motion_sd.items()}
        unknown = [k for k in motion_keys if k not in expected or ".motion_modules." not in k]
        if unknown:
            raise InputError(
                motion_name,
                f"{len(unknown)} keys are not motion-module keys of the denoiser, e.g. "
                + ", ".join(k[len(MOTION_PREFIX) :] for k in unknown[:3]),
            )
        _check_shapes(motion_keys, expected, motion_name, strip=MOTION_PREFIX)
    parts, unknown = split_by_component(net_sd)
    extra = unknown + [k for k in net_sd if k not in expected and k not in unknown]
    if extra:
        raise InputError(net_name, f"{len(extra)} unexpected keys, e.g. {', '.join(extra[:3])}")
    missing = [k for k in expected if k not in net_sd]
    if missing:
        raise InputError(net_name, f"{len(missing)} keys missing, e.g. {', '.join(missing[:3])}")
    _check_shapes(net_sd, expected, net_name)
    merged: dict[str, dict[str, torch.Tensor]] = {c: {} for c in HALLO_COMPONENTS}
    if motion_sd is not None:
        for key, value in motion_sd.items():
            merged["animate_net"][key] = value
    for component, sd in parts.items():
        merged[component].update(sd)  # net wins over the motion-module file
    return merged


def _check_shapes(sd, expected, name, strip: str = "") -> None:
    bad = [k for k, v in sd.items() if tuple(v.shape) != expected[k].shape]
    if bad:
        shown = ", ".join(
            f"{k[len(strip) :]} is {list(sd[k].shape)}, expected {list(expected[k].shape)}"
            for k in bad[:3]
        )
        raise InputError(name, f"{len(bad)} tensors have the wrong shape: {shown}")


def load_hallo_modules(
    config: HalloConfig,
    net_sd: Mapping[str, torch.Tensor],
    motion_sd: Mapping[str, torch.Tensor] | None = None,
    net_name: str | Path = "net.pth",
    motion_name: str | Path = "mm_sd_v15_v2.ckpt",
) -> dict[str, nn.Module]:
    """In-memory import: build the modules on the CPU and load both files strictly."""
    modules = build_modules(config)
    merged = merge_hallo_state(modules, net_sd, motion_sd, net_name, motion_name)
    for component, module in modules.items():
        module.load_state_dict(merged[component], strict=True)
        module.eval().requires_grad_(False)
    return modules


# -- the folder importer --------------------------------------------------------------------


def import_hallo(
    pretrained_models_dir: str | Path,
    out_dir: str | Path,
    progress: ProgressFn | None = None,
    dtype: torch.dtype | None = None,
    config: HalloConfig | None = None,
) -> Path:
    """Convert Hallo's `pretrained_models/` into a MagicTalk weights folder at `out_dir`.

    `dtype` (e.g. torch.float16) casts the floating-point weights; None keeps them as
    stored. `config` overrides the module settings (default: the released configuration
    derived from the SD1.5 unet config; tests pass a tiny one). Returns `out_dir`.
    Refuses an existing `out_dir` (choose a new folder).
    """
    src = Path(pretrained_models_dir)
    out = Path(out_dir)
    if not src.is_dir():
        raise InputError(src, "Hallo pretrained_models folder not found")
    if out.exists():
        raise InputError(out, "output folder already exists; remove it or choose another")
    net_path = src / "hallo" / "net.pth"
    motion_path = src / "motion_module" / "mm_sd_v15_v2.ckpt"
    vae_dir = src / "sd-vae-ft-mse"
    unet_dir = src / "stable-diffusion-v1-5" / "unet"
    for need, what in (
        (net_path, "Hallo net weights"),
        (motion_path, "motion module weights"),
        (vae_dir / "config.json", "VAE config"),
        (unet_dir / "config.json", "SD1.5 UNet config"),
    ):
        if not need.is_file():
            raise InputError(need, f"{what} not found (expected Hallo's pretrained_models layout)")

    steps = _Steps(progress, total=9)
    try:
        return _import(src, out, net_path, motion_path, vae_dir, unet_dir, steps, dtype, config)
    finally:
        steps.close()


def _import(src, out, net_path, motion_path, vae_dir, unet_dir, steps, dtype, config) -> Path:
    try:
        unet_config = json.loads((unet_dir / "config.json").read_text())
        if config is None:
            config = HalloConfig.from_sd15_unet_config(unet_config)
        modules = build_modules(config, device="meta")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(unet_dir / "config.json", f"unusable UNet config ({exc})") from None
    steps.advance("reading motion modules")
    motion_sd = load_state_dict(motion_path, "motion module checkpoint")
    steps.advance("reading Hallo net")
    net_sd = load_state_dict(net_path, "Hallo net checkpoint")
    steps.advance("checking keys and shapes")
    merged = merge_hallo_state(modules, net_sd, motion_sd, net_path, motion_path)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp-", dir=out.parent))
    try:
        index: dict = {"_class_name": "MagicTalkPipeline", "_diffusers_version": _dv()}
        for component in HALLO_COMPONENTS:
            steps.advance(f"writing {component}")
            _write_component(tmp / component, modules[component], merged[component], dtype)
            index[component] = [MODULES_LIBRARY, type(modules[component]).__name__]
        steps.advance("converting VAE")
        index["vae"] = _import_vae(vae_dir, tmp / "vae")
        from diffusers import DDIMScheduler

        from core.diffusion.layout import HALLO_SCHEDULER

        DDIMScheduler(**HALLO_SCHEDULER).save_pretrained(tmp / "scheduler")
        index["scheduler"] = ["diffusers", "DDIMScheduler"]
        steps.advance("optional components")
        index["text_adapter"] = _import_text_adapter(
            unet_dir, modules["animate_net"], tmp / "text_adapter"
        )
        index.update(_copy_optional(src, tmp))
        index["_source"] = {"format": "hallo", "net": str(net_path), "motion": str(motion_path)}
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    steps.finish()
    return out


def _dv() -> str:
    import diffusers

    return diffusers.__version__


def _write_component(folder: Path, module: nn.Module, sd: dict, dtype) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    module.save_config(folder)
    tensors, seen = {}, set()
    for key, value in sd.items():
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        value = value.contiguous()
        ptr = (value.untyped_storage().data_ptr(), value.storage_offset())
        if ptr in seen:
            value = value.clone()
        seen.add(ptr)
        tensors[key] = value
    save_file(tensors, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})


def _import_vae(vae_dir: Path, dst: Path) -> list:
    from diffusers import AutoencoderKL

    try:
        vae = AutoencoderKL.from_pretrained(str(vae_dir), local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(vae_dir, f"not a loadable AutoencoderKL folder ({msg})") from None
    vae.save_pretrained(str(dst), safe_serialization=True)
    return ["diffusers", "AutoencoderKL"]


def _import_text_adapter(unet_dir: Path, net: AnimateNet, dst: Path) -> list:
    """Seed the decoupled text attention from SD1.5's attn2.to_k/to_v when present."""
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"):
        path = unet_dir / name
        if path.is_file():
            break
    else:
        return [None, None]
    sd = load_state_dict(path, "SD1.5 UNet weights")
    adapter = TextAdapter.for_animate_net(net, net.config.cross_attention_dim)
    try:
        adapter.init_from_unet(sd)
    except (KeyError, ValueError) as exc:
        raise InputError(path, f"cannot seed the text adapter: {exc}") from None
    adapter.save_pretrained(str(dst), safe_serialization=True)
    return [MODULES_LIBRARY, "TextAdapter"]


def _copy_optional(src: Path, dst: Path) -> dict:
    entries: dict = {}
    sd = src / "stable-diffusion-v1-5"
    for name, lib, cls in (
        ("text_encoder", "transformers", "CLIPTextModel"),
        ("tokenizer", "transformers", "CLIPTokenizer"),
    ):
        if (sd / name).is_dir():
            shutil.copytree(sd / name, dst / name)
            entries[name] = [lib, cls]
        else:
            entries[name] = [None, None]
    wav = src / "wav2vec" / "wav2vec2-base-960h"
    if wav.is_dir():
        shutil.copytree(wav, dst / "wav2vec")
        entries["wav2vec"] = ["transformers", "Wav2Vec2Model"]
    else:
        entries["wav2vec"] = [None, None]
    faces = sorted((src / "face_analysis" / "models").glob("*.onnx"))
    if faces:
        (dst / "face_analysis").mkdir()
        for f in faces:
            shutil.copy2(f, dst / "face_analysis" / f.name)
        entries["face_analysis"] = ["onnxruntime", "InferenceSession"]
    else:
        entries["face_analysis"] = [None, None]
    return entries


class _Steps:
    """tqdm bar + optional progress(fraction, message) callback."""

    def __init__(self, progress: ProgressFn | None, total: int):
        from tqdm.auto import tqdm

        self.progress = progress
        self.total = total
        self.done = 0
        self.bar = tqdm(total=total, desc="import-hallo", unit="step", leave=False)

    def advance(self, message: str) -> None:
        self.done += 1
        self.bar.set_postfix_str(message)
        self.bar.update(1)
        if self.progress is not None:
            self.progress(min(self.done / self.total, 1.0), message)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(1.0, "done")

    def close(self) -> None:
        self.bar.close()
