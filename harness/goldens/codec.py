"""Exact, diff-friendly JSON for recorded TF results, and the content key of a TF call.

An array of at most :data:`TEXT_ELEMENTS` elements is ``{"dtype", "shape", "values"}``:
``values`` is the flat C-order list of its elements, each float written as the shortest
decimal that reads back to the same number *in its own dtype* (float32 ``0.1`` is ``0.1``,
not ``0.10000000149011612``; bfloat16 elements through float32, of which they are a
subset), and non-finite ones as the strings ``"nan"``, ``"inf"``, ``"-inf"``. Every array
is decoded again before it is written; one that does not come back bit for bit (a decimal
that would double-round through float64) is written as ``{"dtype", "shape", "hex"}``, its
little-endian bytes, instead. A larger array (a softmax over 1,000 classes) is
``{"dtype", "shape", "zlib"}``: its little-endian bytes, shuffled byte plane by byte plane
(all first bytes, then all second bytes, ... so that the exponent bytes sit together),
deflated and base64-encoded: a third of the decimal text's size. Output trees keep their
structure: ``{"list": [...]}`` / ``{"tuple": [...]}`` (``tf.clip_by_global_norm`` returns
``([t1, t2], norm)``). A raised error is ``{"error": class, "names": [class and its bases],
"message": text}``.

The key of a call is a SHA-256 over everything that decides TF's result: the op, its
constructor arguments, every argument's dtype, shape and bytes (the values after the case's
input generation, so editing an input or a generator seed changes it), plain-valued
arguments, the execution mode, and for a gradient the differentiated arguments and the
cotangent. Tolerances, descriptions and ``expect`` do not enter it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from typing import Any

import numpy as np

from harness.inputs import np_dtype
from harness.reference.dtypes import dtype_name

TEXT_ELEMENTS = 64
"""Arrays up to this size are written as readable decimals; larger ones as deflated bytes."""
KEY_CHARS = 24
"""Hex digits of a call key kept (96 bits)."""

_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_WIDEN_FOR_TEXT = {"bfloat16": np.float32}
"""dtypes whose shortest decimal is taken in a wider dtype that holds all their values."""


class CodecError(ValueError):
    """A recorded value that cannot be decoded (a hand-edited or damaged golden file)."""


def _float_text(arr: np.ndarray) -> list:
    """Each element as the shortest decimal that reads back in the array's dtype."""
    name = arr.dtype.name
    flat = arr.ravel()
    if name in _WIDEN_FOR_TEXT:
        flat = flat.astype(_WIDEN_FOR_TEXT[name])
    if name == "float64":
        values = flat.tolist()  # Python's repr is float64's shortest round trip
    else:
        values = [float(str(v)) for v in flat]
    return [v if math.isfinite(v) else str(v) for v in values]


def encode_array(value: Any) -> dict:
    arr = np.asarray(value)
    head = {"dtype": arr.dtype.name, "shape": list(arr.shape)}
    floats = arr.dtype.kind == "f" or arr.dtype.name == "bfloat16"
    if not floats and arr.dtype.kind not in "biu":
        raise CodecError(f"cannot record an array of dtype {arr.dtype}")
    if arr.size > TEXT_ELEMENTS:
        return {**head, "zlib": base64.b64encode(zlib.compress(_planes(arr), 9)).decode("ascii")}
    encoded = {**head, "values": _float_text(arr) if floats else arr.ravel().tolist()}
    if not _same_bits(arr, decode_array(encoded)):
        encoded = {**head, "hex": np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes().hex()}
    return encoded


def _planes(arr: np.ndarray) -> bytes:
    """Little-endian bytes, byte plane by byte plane."""
    size = arr.dtype.itemsize
    raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).view(np.uint8)
    return raw.reshape(-1, size).T.tobytes()


def _from_planes(data: bytes, dtype: np.dtype, shape: tuple) -> np.ndarray:
    planes = np.frombuffer(data, dtype=np.uint8).reshape(dtype.itemsize, -1)
    return np.ascontiguousarray(planes.T).view(dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality, with any NaN equal to any NaN (JSON keeps no NaN payloads)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "biu":
        return bool(np.array_equal(a, b))
    uint = np.dtype(f"u{a.dtype.itemsize}")
    wa, wb = a.astype(np.float64), b.astype(np.float64)
    nan = np.isnan(wa)
    return bool(np.array_equal(nan, np.isnan(wb)) and np.array_equal(a.view(uint)[~nan], b.view(uint)[~nan]))


def decode_array(obj: dict) -> np.ndarray:
    try:
        dtype, shape = np_dtype(obj["dtype"]), tuple(obj["shape"])
        if "zlib" in obj:
            return _from_planes(zlib.decompress(base64.b64decode(obj["zlib"], validate=True)), dtype, shape)
        if "hex" in obj:
            return np.frombuffer(bytes.fromhex(obj["hex"]), dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
        values = obj["values"]
        if dtype.kind in "biu":
            return np.asarray(values, dtype=dtype).reshape(shape)
        if any(isinstance(v, str) for v in values):
            values = [_NONFINITE[v] if isinstance(v, str) else v for v in values]
        return np.asarray(values, dtype=np.float64).astype(dtype).reshape(shape)
    except (KeyError, TypeError, ValueError, zlib.error) as exc:
        raise CodecError(f"unreadable array ({type(exc).__name__}: {exc})") from None


def encode_tree(value: Any) -> dict:
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [encode_tree(v) for v in value]}
    return encode_array(value)


def decode_tree(obj: dict) -> Any:
    if not isinstance(obj, dict):
        raise CodecError(f"unreadable output: expected an object, got {type(obj).__name__}")
    if "list" in obj:
        return [decode_tree(v) for v in obj["list"]]
    if "tuple" in obj:
        return tuple(decode_tree(v) for v in obj["tuple"])
    return decode_array(obj)


def _array_bytes(h: Any, name: str, arr: np.ndarray) -> None:
    h.update(f"{name}:{dtype_name(arr.dtype)}:{arr.shape}:".encode())
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    h.update(np.ascontiguousarray(arr).view(np.uint8).data)


_HASHED: dict = {}
HASHED_ENTRIES = 256


def _arrays_hash(arrays: list) -> Any:
    """SHA-256 of ``(name, array)`` pairs in order (:func:`_array_bytes`). The state after
    arrays that cannot change (read-only, owning their data: the inputs a case's expansions
    share, :func:`harness.inputs.materialize_shared`) is kept by their identities (the arrays
    held, so an id is not reused) and copied: the checks of one case in several modes, and a
    gradient's call after its value's, hash their inputs once."""
    key = tuple((name, id(a)) for name, a in arrays) \
        if arrays and all(a.base is None and not a.flags.writeable for _, a in arrays) else None
    hit = _HASHED.get(key) if key is not None else None
    if hit is not None:
        return hit[1].copy()
    h = hashlib.sha256()
    for name, a in arrays:
        _array_bytes(h, name, a)
    if key is not None:
        if len(_HASHED) >= HASHED_ENTRIES:
            _HASHED.pop(next(iter(_HASHED)))
        _HASHED[key] = ([a for _, a in arrays], h.copy())
    return h


def call_key(op_name: str, init: dict, args: dict, mode: str, wrt: tuple = (), cotangent: list | None = None) -> str:
    """The content key of one TF call (see the module docstring): arrays by name, dtype,
    shape and bytes; everything else (op, mode, constructor and plain-valued arguments, the
    differentiated arguments) by its canonical JSON."""
    plain, arrays = [], []
    for name in sorted(args):
        value = args[name]
        if isinstance(value, np.ndarray):
            arrays.append((name, value))
        elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            arrays += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        else:
            plain.append([name, value])
    h = _arrays_hash(arrays)
    for i, c in enumerate(cotangent or ()):
        _array_bytes(h, f"cotangent[{i}]", np.asarray(c))
    h.update(json.dumps(["tf-parity-call/1", op_name, mode, list(wrt), init, plain], sort_keys=True,
                        default=repr).encode())
    return h.hexdigest()[:KEY_CHARS]


def case_hash(keys: dict) -> str:
    """The content hash of an expanded case: its calls' keys, by call name."""
    return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:KEY_CHARS]
