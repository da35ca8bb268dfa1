"""Hallo's checkpoint layout: component prefixes, released configurations, key tables.

`net.pth` is `Net(...).state_dict()`: five modules under the prefixes below. The motion
module file (`mm_sd_v15_v2.ckpt`, AnimateDiff v2) holds the denoiser's `*.motion_modules.*`
keys without the `denoising_unet.` prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.diffusion.layout import HALLO_MOTION_KWARGS

# Hallo prefix in net.pth → our component name (= subfolder in the weights folder).
PREFIX_TO_COMPONENT: dict[str, str] = {
    "reference_unet": "reference_net",
    "denoising_unet": "animate_net",
    "face_locator": "face_locator",
    "imageproj": "image_proj",
    "audioproj": "audio_proj",
}
COMPONENT_TO_PREFIX = {v: k for k, v in PREFIX_TO_COMPONENT.items()}
MOTION_PREFIX = "denoising_unet."

# `unet_additional_kwargs` from Hallo's configs/inference/default.yaml (released model).
HALLO_UNET_ADDITIONAL_KWARGS: dict = {
    "use_inflated_groupnorm": True,
    "unet_use_cross_frame_attention": False,
    "unet_use_temporal_attention": False,
    "use_motion_module": True,
    "use_audio_module": True,
    "motion_module_resolutions": [1, 2, 4, 8],
    "motion_module_mid_block": True,
    "motion_module_decoder_only": False,
    "motion_module_type": "Vanilla",
    "motion_module_kwargs": dict(HALLO_MOTION_KWARGS),
    "audio_attention_dim": 768,
    "stack_enable_blocks_name": ["up", "down", "mid"],
    "stack_enable_blocks_depth": [0, 1, 2, 3],
}

# Constructor arguments scripts/inference.py passes for the released model.
HALLO_FACE_LOCATOR = {"conditioning_embedding_channels": 320}
HALLO_IMAGE_PROJ = {
    "cross_attention_dim": 768,
    "clip_embeddings_dim": 512,
    "clip_extra_context_tokens": 4,
}
HALLO_AUDIO_PROJ = {
    "seq_len": 5,
    "blocks": 12,
    "channels": 768,
    "intermediate_dim": 512,
    "output_dim": 768,
    "context_tokens": 32,
}



@dataclass(frozen=True)
class KeyEntry:
    key: str
    shape: tuple[int, ...]
    kind: str  # "param" | "buffer"


def read_keys_txt(path: str | Path) -> list[KeyEntry]:
    """Parse `key<TAB>[d0, d1]<TAB>param|buffer` lines (the fixture's keys.txt)."""
    entries = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        key, shape, kind = line.split("\t")
        dims = shape.strip()[1:-1]
        entries.append(
            KeyEntry(key, tuple(int(d) for d in dims.split(",") if d.strip()), kind.strip())
        )
    return entries


def module_key_table(modules: Mapping[str, object]) -> list[KeyEntry]:
    """Key table of built modules (`{component: nn.Module}`), with Hallo prefixes."""
    entries = []
    for component, module in modules.items():
        prefix = COMPONENT_TO_PREFIX[component]
        params = {n for n, _ in module.named_parameters()}
        for name, tensor in module.state_dict(keep_vars=True).items():
            kind = "param" if name in params else "buffer"
            entries.append(KeyEntry(f"{prefix}.{name}", tuple(tensor.shape), kind))
    return entries


def compare_key_tables(
    expected: Iterable[KeyEntry], actual: Iterable[KeyEntry], limit: int = 5
) -> list[str]:
    """Differences as readable lines (empty = identical key set, shapes and kinds)."""
    exp = {e.key: e for e in expected}
    act = {e.key: e for e in actual}
    problems = []
    missing = [k for k in exp if k not in act]
    extra = [k for k in act if k not in exp]
    if missing:
        problems.append(f"{len(missing)} keys missing, e.g. {', '.join(missing[:limit])}")
    if extra:
        problems.append(f"{len(extra)} unexpected keys, e.g. {', '.join(extra[:limit])}")
    shapes = [k for k in exp if k in act and exp[k].shape != act[k].shape]
    if shapes:
        problems.append(
            f"{len(shapes)} shape mismatches, e.g. "
            + ", ".join(f"{k} {list(act[k].shape)} != {list(exp[k].shape)}" for k in shapes[:limit])
        )
    kinds = [k for k in exp if k in act and exp[k].kind != act[k].kind]
    if kinds:
        problems.append(f"{len(kinds)} param/buffer mismatches, e.g. {', '.join(kinds[:limit])}")
    return problems


def split_by_component(state_dict: Mapping[str, object]) -> tuple[dict[str, dict], list[str]]:
    """{component: {key without prefix: tensor}} and the keys with an unknown prefix."""
    parts: dict[str, dict] = {c: {} for c in PREFIX_TO_COMPONENT.values()}
    unknown = []
    for key, value in state_dict.items():
        prefix, _, rest = key.partition(".")
        if prefix in PREFIX_TO_COMPONENT and rest:
            parts[PREFIX_TO_COMPONENT[prefix]][rest] = value
        else:
            unknown.append(key)
    return parts, unknown
