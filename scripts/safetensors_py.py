"""Safetensors files with numpy alone (the `safetensors` package is not needed).

    save(path, {"name": ndarray, ...}, {"key": "value", ...})
    tensors, metadata = load(path)

The layout matches the C writer (src/io/safetensors.c): 8-byte little-endian
header length, UTF-8 JSON header padded with spaces to a multiple of 8 bytes,
then the data, larger element sizes first so every tensor is aligned to its
element size. `load` checks the same rules as the C reader (sizes, dtypes,
offsets, duplicates, full coverage of the data buffer) and returns read-only
little-endian arrays. Torch tensors: pass `t.numpy()`; bfloat16 is not
supported here, since numpy has no such type.
"""
import json
import os
import struct

import numpy as np

DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
MAX_HEADER = 16 << 20  # as FA_ST_MAX_HEADER in src/io/safetensors.h


def _dtype_name(dtype):
    for name, code in DTYPES.items():
        if np.dtype(code) == dtype.newbyteorder("<"):
            return name
    raise ValueError(f"dtype {dtype} has no safetensors name")


def save(path, tensors, metadata=None):
    """Writes `tensors` (name -> array) and `metadata` (str -> str) atomically."""
    arrays = {}
    for name, a in tensors.items():
        a = np.asarray(a)
        arrays[name] = a.astype(a.dtype.newbyteorder("<"), order="C", copy=False)
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    order = sorted(arrays, key=lambda n: -arrays[n].dtype.itemsize)  # stable
    begin, offset = {}, 0
    for name in order:
        begin[name] = offset
        offset += arrays[name].nbytes
    for name, a in arrays.items():
        header[name] = {"dtype": _dtype_name(a.dtype), "shape": list(a.shape),
                        "data_offsets": [begin[name], begin[name] + a.nbytes]}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(arrays[name].tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in header: {keys}")
    return dict(pairs)


def load(path):
    """Returns (name -> array, metadata dict); raises ValueError on a bad file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: shorter than 8 bytes")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER or n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} does not fit the {len(raw)}-byte file")
    header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    if not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: metadata values must be strings")
    tensors, ranges = {}, []
    for name, e in header.items():
        dtype = np.dtype(DTYPES[e["dtype"]])
        shape = tuple(e["shape"])
        begin, end = e["data_offsets"]
        if not all(isinstance(x, int) and x >= 0 for x in (*shape, begin, end)):
            raise ValueError(f"{path}: {name}: shape and offsets must be non-negative integers")
        if not begin <= end <= len(data) or end - begin != int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(f"{path}: {name}: data_offsets {begin, end} do not fit shape {shape}")
        tensors[name] = np.ndarray(shape, dtype, buffer=data, offset=begin)
        ranges.append((begin, end))
    at = 0
    for begin, end in sorted(ranges):
        if begin != at:
            raise ValueError(f"{path}: data bytes not indexed exactly once near offset {at}")
        at = end
    if at != len(data):
        raise ValueError(f"{path}: data bytes {at}..{len(data)} belong to no tensor")
    return tensors, metadata
