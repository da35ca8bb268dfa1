"""Loading a pipeline's components from a weights folder, offline and quietly, into
memory of their own (see each function for why)."""

from __future__ import annotations

from pathlib import Path

import torch

from core.diffusion.layout import REQUIRED_COMPONENTS
from core.errors import InputError


def load_components(folder: Path, dtype: torch.dtype | None, wanted: set[str]) -> dict:
    """Every component named in model_index.json, loaded from its sub-folder offline.

    Done here rather than by `DiffusionPipeline.from_pretrained` because diffusers resolves
    a custom library by looking up both the class and its loading base class (`ModelMixin`)
    in that library's namespace; a package that re-exports only the classes (the importer
    writes `core.diffusion.models`) fails that lookup. Each class's own `from_pretrained`
    accepts either spelling. Entries that are not pipeline components (`face_analysis`) and
    null entries are skipped. `wanted`: the pipeline's component names.
    """
    import importlib
    import json

    index = json.loads((folder / "model_index.json").read_text())
    out: dict = {}
    for name, entry in index.items():
        if name.startswith("_") or name not in wanted or not isinstance(entry, list):
            continue
        library, class_name = entry
        if library is None:
            continue
        cls = getattr(importlib.import_module(library), class_name, None)
        if cls is None:
            raise InputError(folder / "model_index.json",
                             f"component {name}: {library} has no class {class_name}")
        if not (folder / name).is_dir():
            raise InputError(folder / name, f"component {name} is missing")
        if library == "transformers":
            module = cls.from_pretrained(str(folder / name), local_files_only=True)
        else:
            module = cls.from_pretrained(str(folder / name))
        if dtype is not None and isinstance(module, torch.nn.Module):
            module = module.to(dtype)
        out[name] = module
    missing = [c for c in REQUIRED_COMPONENTS if c not in out]
    if missing:
        raise InputError(folder, f"weights folder lacks {', '.join(missing)}")
    return out


def own_memory(module: torch.nn.Module) -> None:
    """Give every parameter/buffer its own freshly allocated storage.

    Loaded safetensors tensors can sit at addresses that are not 64-byte aligned; CPU
    kernels then take other vectorised paths and results differ in the last float bits
    from a model built in memory. Re-allocating makes a loaded model compute bit-for-bit
    like the one that was saved (and drops any reference to the file mapping).
    """
    with torch.no_grad():
        for p in module.parameters():
            p.data = p.data.clone()
        for name, buf in list(module.named_buffers()):
            owner = module.get_submodule(name.rpartition(".")[0]) if "." in name else module
            setattr(owner, name.rpartition(".")[2], buf.clone())


class quiet_loading:
    """Silences diffusers/transformers loading chatter (progress bars, 'install
    accelerate' hints) for the duration of a load or save; restores the levels after."""

    def __enter__(self):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        self._levels = (dlog.get_verbosity(), tlog.get_verbosity())
        self._bars = (dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled())
        dlog.set_verbosity_error()
        tlog.set_verbosity_error()
        dlog.disable_progress_bar()
        tlog.disable_progress_bar()
        return self

    def __exit__(self, *exc):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        dlog.set_verbosity(self._levels[0])
        tlog.set_verbosity(self._levels[1])
        if self._bars[0]:
            dlog.enable_progress_bar()
        if self._bars[1]:
            tlog.enable_progress_bar()
        return False
