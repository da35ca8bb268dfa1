"""Expose a Piper voice's phoneme durations without the `onnx` package.

Piper's VITS graph computes the number of spectrogram frames per phoneme (a `Ceil` node)
but does not output it; piper-tts can mark that tensor as an output, which needs the
`onnx` package (~16 MB and its own protobuf pins) just to edit one list. The edit is
small enough to do on the protobuf wire format directly: find the graph (ModelProto
field 7), find the single node whose op_type is "Ceil" (NodeProto field 4; its output is
field 2), and append a ValueInfoProto carrying only that name to the graph's outputs
(GraphProto field 12). Everything else is copied byte for byte. The result is handed to
onnxruntime in memory; the voice file is never modified.

Returns None whenever the model does not look as expected (no or several Ceil nodes,
unparseable bytes): the caller then loads the voice as is and times words by alignment.
"""

from __future__ import annotations

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: bytes, start: int = 0, end: int | None = None):
    """Yield (field number, wire type, value start, value end, field start) of a message."""
    pos = start
    end = len(buf) if end is None else end
    while pos < end:
        fstart = pos
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == _VARINT:
            _, npos = _varint(buf, pos)
            yield num, wt, pos, npos, fstart
            pos = npos
        elif wt == _I64:
            yield num, wt, pos, pos + 8, fstart
            pos += 8
        elif wt == _I32:
            yield num, wt, pos, pos + 4, fstart
            pos += 4
        elif wt == _LEN:
            n, pos = _varint(buf, pos)
            if pos + n > end:
                raise ValueError("field runs past the message")
            yield num, wt, pos, pos + n, fstart
            pos += n
        else:
            raise ValueError(f"unsupported wire type {wt}")


def _len_field(num: int, payload: bytes) -> bytes:
    return _enc_varint((num << 3) | _LEN) + _enc_varint(len(payload)) + payload


def add_duration_output(model: bytes) -> tuple[bytes, str] | None:
    """(patched model bytes, tensor name), or None when the model is not patchable or
    already outputs its durations."""
    try:
        graph = next(((a, b, f) for num, wt, a, b, f in _fields(model)
                      if num == 7 and wt == _LEN), None)
        if graph is None:
            return None
        g0, g1, gfield = graph
        ceil: list[str] = []
        outputs: list[str] = []
        for num, wt, a, b, _ in _fields(model, g0, g1):
            if wt != _LEN:
                continue
            if num == 1:  # NodeProto
                op, outs = None, []
                for n2, w2, a2, b2, _ in _fields(model, a, b):
                    if n2 == 4 and w2 == _LEN:
                        op = model[a2:b2].decode("utf-8", "replace")
                    elif n2 == 2 and w2 == _LEN:
                        outs.append(model[a2:b2].decode("utf-8", "replace"))
                if op == "Ceil":
                    ceil += outs
            elif num == 12:  # ValueInfoProto of a graph output
                for n2, w2, a2, b2, _ in _fields(model, a, b):
                    if n2 == 1 and w2 == _LEN:
                        outputs.append(model[a2:b2].decode("utf-8", "replace"))
    except (ValueError, IndexError):
        return None
    if len(ceil) != 1 or ceil[0] in outputs or len(outputs) != 1:
        return None
    name = ceil[0]
    new_graph = model[g0:g1] + _len_field(12, _len_field(1, name.encode("utf-8")))
    patched = model[:gfield] + _len_field(7, new_graph) + model[g1:]
    return patched, name
