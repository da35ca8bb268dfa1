"""A data-only file format for analysis results (dataclasses over numpy arrays).

Why not pickle: a pickle runs code when it is loaded, and these files travel inside project
folders that users share; a crafted file would run any command at the next render. This
format can only ever produce data:

- one `.npz` (a zip of `.npy` arrays, written and read with `allow_pickle=False`), holding
  every numpy array of the object plus `manifest`, a uint8 array with the JSON description
  of the structure, and `sha256`, the digest of manifest + arrays (checked on read);
- the manifest describes values as JSON: None, bool, int, float (NaN/inf tagged), str,
  and tagged nodes for lists, tuples, dicts with str keys, numpy arrays and scalars,
  enums and dataclasses;
- the decoder builds classes only from an explicit `Registry` of known types, looked up by
  name (never importlib), and only when the stored fields are exactly the class's current
  init fields, so a change of layout is a miss rather than a half-filled object.

The codec is generic over dataclass fields: adding a field to FaceRig needs no change here.
Everything wrong with a file (truncated, tampered, unknown type, too deep, too large) raises
`SerialError`; callers treating the file as a cache turn that into a miss.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import json
import math
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

FORMAT = "avatar-studio/serial-1"
MAX_DEPTH = 64
"""Nesting limit (containers inside containers) for both writing and reading."""
MAX_ARRAYS = 10_000
MAX_MANIFEST_BYTES = 16 << 20
MAX_TOTAL_BYTES = 2 << 30
"""Uncompressed size limit of one file (a zip bomb is refused before anything is read)."""
_TAG = "$"


class SerialError(ValueError):
    """The object cannot be written, or the file is not a valid, intact, known entry."""


class Registry:
    """The allow-list of classes the decoder may construct, by name.

    Names are the class's `__qualname__`; two registered classes may not share one."""

    def __init__(self, types: Iterable[type] = ()):
        self._by_name: dict[str, type] = {}
        for t in types:
            self.add(t)

    def add(self, cls: type) -> type:
        if not (dataclasses.is_dataclass(cls) or (isinstance(cls, type)
                                                  and issubclass(cls, enum.Enum))):
            raise TypeError(f"{cls!r} is neither a dataclass nor an Enum")
        if dataclasses.is_dataclass(cls) and any(not f.init for f in dataclasses.fields(cls)):
            raise TypeError(f"{cls.__qualname__} has init=False fields; not supported")
        name = cls.__qualname__
        if self._by_name.get(name, cls) is not cls:
            raise ValueError(f"two registered classes are named {name}")
        self._by_name[name] = cls
        return cls

    def name_of(self, cls: type) -> str:
        name = cls.__qualname__
        if self._by_name.get(name) is not cls:
            raise SerialError(f"{cls.__module__}.{name} is not a registered type")
        return name

    def get(self, name: Any) -> type:
        cls = self._by_name.get(name) if isinstance(name, str) else None
        if cls is None:
            raise SerialError(f"unknown type {str(name)[:80]!r}")
        return cls


def _core_types() -> Registry:
    # Every dataclass defined in core.types (so a new nested result type, such as the
    # prosody inside AudioFeatures, is cacheable without a second list to keep in step);
    # nothing outside that module can ever be constructed from a cache entry.
    import dataclasses

    from core import types as t

    return Registry([v for v in vars(t).values() if isinstance(v, type)
                     and dataclasses.is_dataclass(v) and v.__module__ == t.__name__])


DEFAULT = _core_types()
"""The dataclasses of core.types (the analysis results projects cache)."""


# ------------------------------------------------------------------ encoding
class _Encoder:
    def __init__(self, registry: Registry):
        self.registry = registry
        self.arrays: list[np.ndarray] = []

    def node(self, v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SerialError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(v, enum.Enum):  # before int/str: IntEnum and StrEnum are both
            return {_TAG: "enum", "type": self.registry.name_of(type(v)),
                    "v": self.node(v.value, depth + 1)}
        if isinstance(v, (np.ndarray, np.generic)):  # before float: np.float64 is one
            return self.array(v)
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, str):
            return str(v)
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v) if math.isfinite(v) else {_TAG: "float", "v": repr(float(v))}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            name = self.registry.name_of(type(v))
            return {_TAG: "dc", "type": name,
                    "f": {f.name: self.node(getattr(v, f.name), depth + 1)
                          for f in dataclasses.fields(v)}}
        if type(v) in (list, tuple):
            return {_TAG: type(v).__name__, "v": [self.node(x, depth + 1) for x in v]}
        if type(v) is dict:
            if not all(type(k) is str for k in v):
                raise SerialError("dict keys must be str")
            return {_TAG: "dict", "k": list(v), "v": [self.node(x, depth + 1)
                                                      for x in v.values()]}
        raise SerialError(f"cannot store a {type(v).__module__}.{type(v).__qualname__}")

    def array(self, v: np.ndarray | np.generic) -> dict:
        a = np.asarray(v)
        if a.dtype.kind not in "biufcUSmM" or a.dtype.fields is not None:
            raise SerialError(f"cannot store an array of dtype {a.dtype}")
        self.arrays.append(a)
        return {_TAG: "nd" if isinstance(v, np.ndarray) else "np", "i": len(self.arrays) - 1}


def _digest(manifest: bytes, arrays: list[np.ndarray]) -> bytes:
    h = hashlib.sha256()
    h.update(len(manifest).to_bytes(8, "little"))
    h.update(manifest)
    for a in arrays:
        head = json.dumps([a.dtype.str, list(a.shape)]).encode()
        h.update(len(head).to_bytes(8, "little"))
        h.update(head)
        h.update(np.ascontiguousarray(a).data if a.size else b"")
    return h.digest()


def dump(obj: Any, file: IO[bytes] | str | Path, label: str = "",
         registry: Registry = DEFAULT) -> None:
    """Write `obj` to `file` (a binary file object or a path, used as given). `label` (a
    cache key, say) is stored and must match on `load`."""
    enc = _Encoder(registry)
    root = enc.node(obj, 0)
    if len(enc.arrays) > MAX_ARRAYS:
        raise SerialError(f"more than {MAX_ARRAYS} arrays")
    manifest = json.dumps({"format": FORMAT, "label": label, "root": root},
                          separators=(",", ":"), allow_nan=False).encode()
    arrays = {f"a{i}": a for i, a in enumerate(enc.arrays)}
    arrays["manifest"] = np.frombuffer(manifest, np.uint8)
    arrays["sha256"] = np.frombuffer(_digest(manifest, enc.arrays), np.uint8)
    np.savez_compressed(file, allow_pickle=False, **arrays)


def dumps(obj: Any, label: str = "", registry: Registry = DEFAULT) -> bytes:
    buf = io.BytesIO()
    dump(obj, buf, label, registry)
    return buf.getvalue()


# ------------------------------------------------------------------ decoding
class _Decoder:
    def __init__(self, registry: Registry, arrays: list[np.ndarray]):
        self.registry = registry
        self.arrays = arrays

    def node(self, n: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SerialError(f"nested deeper than {MAX_DEPTH} levels")
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict):
            raise SerialError(f"unexpected {type(n).__name__} in the manifest")
        tag = n.get(_TAG)
        if tag in ("nd", "np"):
            i = n.get("i")
            if type(i) is not int or not 0 <= i < len(self.arrays):
                raise SerialError("bad array reference")
            return self.arrays[i] if tag == "nd" else self.arrays[i][()]
        if tag == "float":
            if n.get("v") not in ("nan", "inf", "-inf"):
                raise SerialError("bad float")
            return float(n["v"])
        if tag in ("list", "tuple"):
            items = [self.node(x, depth + 1) for x in self._list(n, "v")]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            keys, vals = self._list(n, "k"), self._list(n, "v")
            if len(keys) != len(vals) or not all(isinstance(k, str) for k in keys):
                raise SerialError("bad dict")
            return {k: self.node(x, depth + 1) for k, x in zip(keys, vals, strict=True)}
        if tag == "enum":
            cls = self.registry.get(n.get("type"))
            if not issubclass(cls, enum.Enum):
                raise SerialError(f"{cls.__qualname__} is not an Enum")
            try:
                return cls(self.node(n.get("v"), depth + 1))
            except ValueError as exc:
                raise SerialError(f"bad {cls.__qualname__} value") from exc
        if tag == "dc":
            cls = self.registry.get(n.get("type"))
            stored = n.get("f")
            if not dataclasses.is_dataclass(cls) or not isinstance(stored, dict):
                raise SerialError("bad dataclass node")
            names = [f.name for f in dataclasses.fields(cls)]
            if sorted(stored) != sorted(names):
                raise SerialError(f"stored {cls.__qualname__} has other fields than the "
                                  "current class (an older layout)")
            kw = {k: self.node(stored[k], depth + 1) for k in names}
            try:
                return cls(**kw)
            except (TypeError, ValueError) as exc:
                raise SerialError(f"cannot build {cls.__qualname__}: {exc}") from exc
        raise SerialError(f"unknown node tag {str(tag)[:40]!r}")

    @staticmethod
    def _list(n: dict, key: str) -> list:
        v = n.get(key)
        if not isinstance(v, list):
            raise SerialError("bad container")
        return v


def load(file: IO[bytes] | str | Path, label: str | None = None,
         registry: Registry = DEFAULT) -> Any:
    """Read an object written by `dump`. With `label`, the stored label must equal it.
    Raises SerialError for anything other than an intact file of known types (OSError
    for a file that cannot be opened)."""
    try:
        with zipfile.ZipFile(file) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ARRAYS + 2 or sum(i.file_size for i in infos) > (
                    MAX_TOTAL_BYTES):
                raise SerialError("too large")
            if zf.getinfo("manifest.npy").file_size > MAX_MANIFEST_BYTES:
                raise SerialError("manifest too large")
            for info in infos:
                _check_header(zf, info)
        if hasattr(file, "seek"):
            file.seek(0)
        with np.load(file, allow_pickle=False) as npz:
            n = len(npz.files) - 2
            if set(npz.files) != {"manifest", "sha256", *(f"a{i}" for i in range(n))}:
                raise SerialError("unexpected members")
            manifest = npz["manifest"]
            digest = npz["sha256"]
            arrays = [npz[f"a{i}"] for i in range(n)]
    except (SerialError, OSError, MemoryError):
        raise
    except Exception as exc:  # zipfile, zlib, numpy's format reader: all mean "damaged"
        raise SerialError(f"not a readable entry ({exc.__class__.__name__})") from exc
    if manifest.dtype != np.uint8 or manifest.ndim != 1 or digest.dtype != np.uint8:
        raise SerialError("bad manifest")
    raw = manifest.tobytes()
    if digest.tobytes() != _digest(raw, arrays):
        raise SerialError("content hash mismatch (damaged or altered)")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SerialError("bad manifest JSON") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SerialError("not a serial-1 file")
    if label is not None and meta.get("label") != label:
        raise SerialError("stored under another key")
    return _Decoder(registry, arrays).node(meta.get("root"), 0)


def _check_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse a member whose .npy header promises more data than the member holds (numpy
    would allocate the promised size before reading) or an object (pickled) dtype."""
    fmt = np.lib.format
    with zf.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:
            raise SerialError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise SerialError("object arrays are not data")
    if math.prod(shape) * dtype.itemsize > info.file_size:
        raise SerialError(f"member {info.filename[:40]!r} is shorter than its header says")


def loads(data: bytes, label: str | None = None, registry: Registry = DEFAULT) -> Any:
    return load(io.BytesIO(data), label, registry)
