"""Turning a case's argument values (literals or generators) into NumPy arrays.

Everything here is deterministic: a generator without ``seed`` is seeded from the case id
and the argument name (CRC-32), so every run and every dtype of a case sees the same data.
"""
from __future__ import annotations

import json

import os
import warnings
import zlib
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from harness.schema import DTYPES, INT_DTYPES
from harness.yamlio import LineDict, LineList

MAX_ELEMENTS = 50_000_000
"""Default cap on the elements of one generated or literal array."""
MAX_ELEMENTS_ENV = "TF_PARITY_MAX_ELEMENTS"
"""Environment variable overriding :data:`MAX_ELEMENTS` (inherited by xdist workers)."""
GENERATOR_KEYS = {
    "random": {"random", "shape", "seed", "loc", "scale", "low", "high", "dtype"},
    "one_hot": {"one_hot", "depth", "on_value", "off_value"},
    "fill": {"fill", "shape", "dtype"},
    "npy": {"npy", "dtype"},
    "value": {"value", "dtype"},
}
RANDOM_KINDS = ("normal", "uniform", "integers", "simplex")
KEY_SYNONYMS = {"std": "scale", "stddev": "scale", "sigma": "scale", "mean": "loc", "mu": "loc",
                "minval": "low", "maxval": "high", "min": "low", "max": "high", "size": "shape", "dims": "shape"}
"""Other libraries' names for generator keys (NumPy, tf.random), suggested in errors."""
NPY_MAGIC = b"\x93NUMPY"


class InputError(ValueError):
    """A bad argument value: ``field`` is the dotted path, ``hint`` how to fix it, and
    ``subpath`` the keys/indices from the argument's value down to the culprit (so the
    loader can point at its line)."""

    def __init__(self, field: str, problem: str, hint: str = "", subpath: tuple = ()) -> None:
        super().__init__(f"{field}: {problem}" + (f" ({hint})" if hint else ""))
        self.field = field
        self.problem = problem
        self.hint = hint
        self.subpath = tuple(subpath)


class InputWarning(UserWarning):
    """An argument value the case's dtype cannot hold as written: finite values beyond its range
    that the cast makes ±inf. The runner adds the message to the case's warnings."""


def cast_to(field: str, arr: np.ndarray, dtype) -> np.ndarray:
    """``arr.astype(dtype)``; finite values the cast turns into ±inf (beyond float16's 65504,
    float32's 3.4e38) raise :class:`InputWarning` naming the field, how many and the fix,
    instead of NumPy's anonymous "overflow encountered in cast"."""
    try:
        with np.errstate(over="raise"):
            return arr.astype(dtype)
    except FloatingPointError:
        with np.errstate(over="ignore"):
            out = arr.astype(dtype)
    n = int(np.count_nonzero(np.isinf(out) & np.isfinite(arr)))
    warnings.warn(InputWarning(f"{field}: {n:,} finite value(s) beyond {np.dtype(dtype).name}'s range became ±inf "
                               "(write .inf or -.inf for an infinity; smaller values or a wider dtype keep them finite)"),
                  stacklevel=2)
    return out


def element_cap() -> int:
    """The element cap in force: ``$TF_PARITY_MAX_ELEMENTS`` if set, else :data:`MAX_ELEMENTS`."""
    raw = os.environ.get(MAX_ELEMENTS_ENV, "")
    if raw != _cap[0]:  # read again only when the variable changed
        text = raw.replace("_", "")
        _cap[:] = [raw, int(text) if text.isdigit() else MAX_ELEMENTS]
    return _cap[1]


_cap: list = [None, MAX_ELEMENTS]


def np_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def derive_seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


def generator_kind(spec: Any) -> str | None:
    if isinstance(spec, dict):
        for kind in GENERATOR_KEYS:
            if kind in spec:
                return kind
    return None


def short(value: Any, width: int = 40) -> str:
    """``repr`` cut to ``width`` characters, YAML spelling for booleans and null."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    text = repr(_plain(value))
    return text if len(text) <= width else text[: width - 3] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _check_shape(field: str, shape: Any, limit: int) -> tuple[int, ...]:
    if not isinstance(shape, list) or not all(_is_int(d) for d in shape):
        raise InputError(f"{field}.shape", f"must be a list of integers, got {short(shape)}", "e.g. shape: [64, 10]",
                         ("shape",))
    if any(d < 0 for d in shape):
        raise InputError(f"{field}.shape", f"negative dimension in {shape}", "dimensions must be >= 0", ("shape",))
    n = int(np.prod(shape, dtype=np.float64))
    if n > limit:
        raise InputError(
            f"{field}.shape", f"{shape} has {n:,} elements, over the cap of {limit:,}",
            f"use a smaller shape, or raise the cap with {MAX_ELEMENTS_ENV}=N", ("shape",),
        )
    return tuple(shape)


def _ragged(value: list, field: str, path: tuple = ()) -> tuple[str, tuple] | None:
    """Where a nested list stops being rectangular: (problem, subpath), or None."""
    def form(v: Any) -> str:
        return (f"has {len(v)} item" + ("s" if len(v) != 1 else "")) if isinstance(v, list) else "is a number"

    first = value[0] if value else None
    for i, item in enumerate(value[1:], 1):
        if isinstance(item, list) != isinstance(first, list) or (isinstance(item, list) and len(item) != len(first)):
            return (f"ragged nested list: {field}{_index(path + (i,))} {form(item)}, "
                    f"{field}{_index(path + (0,))} {form(first)}", path + (i,))
    for i, item in enumerate(value):
        if isinstance(item, list):
            found = _ragged(item, field, path + (i,))
            if found:
                return found
    return None


def _index(path: tuple) -> str:
    return "".join(f"[{p}]" for p in path)


def _literal(field: str, value: Any, subpath: tuple = ()) -> np.ndarray:
    """A nested list of numbers (YAML .inf/.nan allowed) as an array; refuses ragged lists."""
    def walk(v: Any, path: tuple) -> Any:
        if isinstance(v, list):
            return [walk(x, path + (i,)) for i, x in enumerate(v)]
        if isinstance(v, bool):
            raise InputError(f"{field}{_index(path)}", f"boolean {short(v)} where a number is required",
                             "write 1.0 or 0.0", subpath + path)
        if not _is_number(v):
            raise InputError(f"{field}{_index(path)}", f"non-numeric element {short(v)}",
                             "use numbers, .inf, -.inf or .nan", subpath + path)
        return v

    checked = walk(value, ())
    if isinstance(checked, list):
        found = _ragged(checked, field.rsplit(".", 1)[-1])
        if found:
            problem, path = found
            raise InputError(f"{field}{_index(path)}", problem, "every row needs the same length", subpath + path)
    return np.array(checked)


def _require_number(field: str, spec: dict, key: str, *, integer: bool = False, minimum: float | None = None) -> None:
    if key not in spec:
        return
    v = spec[key]
    ok = _is_int(v) if integer else _is_number(v)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise InputError(f"{field}.{key}", f"must be {kind}, got {short(v)}", f"e.g. {key}: {1 if integer else 1.0}", (key,))
    if minimum is not None and v < minimum:
        raise InputError(f"{field}.{key}", f"must be >= {minimum:g}, got {short(v)}", f"e.g. {key}: {1 if integer else 1.0}",
                         (key,))


def _random(field: str, spec: dict, seed: int, limit: int, dry: bool) -> np.ndarray:
    kind = spec["random"]
    if kind not in RANDOM_KINDS:
        raise InputError(f"{field}.random", f"unknown generator {short(kind)}", f"one of {', '.join(RANDOM_KINDS)}", ("random",))
    shape = _check_shape(field, spec.get("shape", []), limit)
    integers = kind == "integers"
    _require_number(field, spec, "seed", integer=True, minimum=0)
    _require_number(field, spec, "loc")
    _require_number(field, spec, "scale", minimum=0)
    _require_number(field, spec, "low", integer=integers)
    _require_number(field, spec, "high", integer=integers)
    if integers and "high" not in spec:
        raise InputError(f"{field}.high", "missing: random integers need an exclusive upper bound", "add high: N, e.g. high: 10")
    low, high = spec.get("low", 0), spec.get("high", 1)
    if integers and not low < high:
        raise InputError(f"{field}.high", f"high {high} must be above low {low}: integers are drawn from [low, high)",
                         f"e.g. low: {low}, high: {low + 10}", ("high",))
    if kind == "simplex" and not shape:
        raise InputError(f"{field}.shape", "simplex needs at least one dimension", "e.g. shape: [64, 10]", ("shape",))
    if dry:
        return np.zeros(0, dtype=np.int64 if integers else np.float64)
    return _draw(spec, kind, seed, shape)


def _draw(spec: dict, kind: str, seed: int, shape: tuple) -> np.ndarray:
    rng = np.random.default_rng(spec.get("seed", seed))
    if kind == "normal":
        return rng.normal(spec.get("loc", 0.0), spec.get("scale", 1.0), size=shape)
    if kind == "uniform":
        return rng.uniform(spec.get("low", 0.0), spec.get("high", 1.0), size=shape)
    if kind == "integers":
        return rng.integers(spec.get("low", 0), spec["high"], size=shape)
    # simplex: rows on the probability simplex (Dirichlet(1) along the last axis)
    return rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]) if shape[-1] else np.zeros(shape)


SHAPE_ONLY_KINDS = ("normal", "uniform", "simplex")
"""Generators whose parameters NumPy checks before drawing, whatever the size (``integers``
checks its bounds against the values it draws: an empty draw would not raise)."""


def shape_standin(field: str, spec: Any, *, seed: int, base_dir: Path, max_elements: int) -> np.ndarray | None:
    """What :func:`materialize` gives a ``float`` argument in float64, as zeros of its shape
    (read-only, no memory), for a check that reads only shapes: for a ``random:`` generator
    of :data:`SHAPE_ONLY_KINDS` without ``dtype`` (None for anything else: materialize it).
    It runs the same checks, raising the same :class:`InputError`, and draws nothing with
    the same parameters, so whatever the draw would raise, this raises too."""
    kind = spec.get("random") if isinstance(spec, dict) and generator_kind(spec) == "random" else None
    if kind not in SHAPE_ONLY_KINDS or spec.get("dtype") is not None:
        return None
    shape = spec.get("shape", [])
    if not isinstance(shape, list) or not all(_is_int(d) and 0 <= d <= max_elements for d in shape):
        return None  # a malformed shape, or a dimension only an empty array can have: the ordinary path says
    _raw_array(field, spec, seed=seed, base_dir=base_dir, limit=max_elements, dry=True)
    _draw(spec, kind, seed, (0, shape[-1]) if kind == "simplex" else (0,))
    return np.broadcast_to(np.float64(0.0), tuple(shape))


def _one_hot(field: str, spec: dict) -> np.ndarray:
    idx = _literal(f"{field}.one_hot", spec["one_hot"], ("one_hot",))
    if idx.size and idx.dtype.kind not in "iu":
        raise InputError(f"{field}.one_hot", f"class indices must be integers, got {short(spec['one_hot'])}",
                         "e.g. one_hot: [2, 0, 1]", ("one_hot",))
    depth = spec.get("depth")
    if not _is_int(depth) or depth <= 0:
        raise InputError(f"{field}.depth", f"must be a positive integer, got {short(depth)}", "e.g. depth: 3",
                         ("depth",) if "depth" in spec else ())
    _require_number(field, spec, "on_value")
    _require_number(field, spec, "off_value")
    on, off = spec.get("on_value", 1.0), spec.get("off_value", 0.0)
    return np.where(np.arange(depth) == idx[..., None], on, off).astype(np.float64)


def _npy(field: str, spec: dict, base_dir: Path) -> np.ndarray:
    rel = Path(str(spec["npy"]))
    path = (base_dir / rel).resolve()
    if rel.is_absolute() or not path.is_relative_to(base_dir.resolve()):
        raise InputError(f"{field}.npy", f"path {str(rel)!r} escapes the case directory",
                         "keep data files in the case file's directory or below it", ("npy",))
    if not path.is_file():
        raise InputError(f"{field}.npy", f"file {str(rel)!r} not found", "paths are relative to the case file's directory",
                         ("npy",))
    with open(path, "rb") as fh:
        magic = fh.read(len(NPY_MAGIC))
    if magic != NPY_MAGIC:
        raise InputError(f"{field}.npy", f"{str(rel)!r} is not a .npy file", "write it with numpy.save", ("npy",))
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError:
        raise InputError(f"{field}.npy", f"{str(rel)!r} holds Python objects (pickles are refused)",
                         "save a numeric array with numpy.save", ("npy",)) from None
    except Exception as exc:  # truncated or corrupt
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{field}.npy", f"cannot read {str(rel)!r}: {text}", "write it again with numpy.save",
                         ("npy",)) from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{field}.npy", f"{str(rel)!r} holds {arr.dtype} values, not numbers",
                         "save a numeric array with numpy.save", ("npy",))
    return arr


def _unknown_form(field: str, spec: dict) -> InputError:
    import difflib

    keys = [str(k) for k in spec]
    close = [m for k in keys for m in difflib.get_close_matches(k, list(GENERATOR_KEYS), n=1, cutoff=0.6)]
    hint = f"did you mean {close[0]!r}?" if close else f"use a list, or a generator: {', '.join(GENERATOR_KEYS)}"
    return InputError(field, f"not a value or a generator (keys: {', '.join(keys)})", hint)


_RAW_CACHE: dict = {}
RAW_CACHE_ENTRIES = 512
RAW_CACHE_MAX_ELEMENTS = 1 << 16


def raw_array(field: str, spec: Any, *, seed: int, base_dir: Path, max_elements: int | None = None,
              dry: bool = False) -> tuple[np.ndarray, str | None]:
    """The array a value spec describes, and the dtype it names explicitly (or None).

    ``dry=True`` validates without generating large data (used at load time). A case's
    expansions (dtypes × modes × matrix) build the same arrays: small ones built from a
    loaded case file's values (never modified after loading) are kept, keyed by the spec
    object (held, so its id is not reused) and the seed. Callers cast, which copies, so a
    kept array is never handed out."""
    limit = element_cap() if max_elements is None else max_elements
    cacheable = not dry and isinstance(spec, (LineDict, LineList)) and generator_kind(spec) != "npy"
    key = (id(spec), seed, limit, str(base_dir))
    hit = _RAW_CACHE.get(key) if cacheable else None
    if hit is not None and hit[0] is spec:
        return hit[1], hit[2]
    # A random generator is also kept by its content (a spec built per call, the cotangent's,
    # or an equal one in another expansion): its values depend on nothing else.
    content = _random_key(spec, seed, limit) if not dry else None
    hit = _RAW_CACHE.get(content) if content is not None else None
    if hit is not None:
        arr, dtype = hit[1], hit[2]
    else:
        arr, dtype = _raw_array(field, spec, seed=seed, base_dir=base_dir, limit=limit, dry=dry)
    if (cacheable or content is not None) and arr.size <= RAW_CACHE_MAX_ELEMENTS:
        for k in ((key,) if cacheable else ()) + ((content,) if content is not None else ()):
            if len(_RAW_CACHE) >= RAW_CACHE_ENTRIES:
                _RAW_CACHE.pop(next(iter(_RAW_CACHE)))
            _RAW_CACHE[k] = (spec, arr, dtype)
    return arr, dtype


def _random_key(spec: Any, seed: int, limit: int) -> tuple | None:
    """The content key of a ``random:`` generator spec (None for any other value)."""
    if not isinstance(spec, dict) or "random" not in spec or generator_kind(spec) != "random":
        return None
    try:
        text = json.dumps(_plain(spec), sort_keys=True)
    except (TypeError, ValueError):
        return None
    return ("random", text, seed, limit)


def _raw_array(field: str, spec: Any, *, seed: int, base_dir: Path, limit: int,
               dry: bool) -> tuple[np.ndarray, str | None]:
    kind = generator_kind(spec)
    if kind is None:
        if isinstance(spec, dict):
            raise _unknown_form(field, spec)
        arr = _literal(field, spec)
        if arr.size > limit:
            raise InputError(field, f"{arr.size:,} elements, over the cap of {limit:,}",
                             f"raise the cap with {MAX_ELEMENTS_ENV}=N")
        return arr, None
    extra = sorted(str(k) for k in set(spec) - GENERATOR_KEYS[kind])
    if extra:
        import difflib

        allowed = sorted(GENERATOR_KEYS[kind])
        close = [KEY_SYNONYMS[extra[0]]] if KEY_SYNONYMS.get(extra[0]) in allowed else \
            difflib.get_close_matches(extra[0], allowed, n=1, cutoff=0.6)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"a {kind} generator takes: {', '.join(allowed)}"
        raise InputError(f"{field}.{extra[0]}", f"unknown key for a {kind} generator", hint, (extra[0],))
    dtype = spec.get("dtype")
    if dtype is not None and dtype not in DTYPES + INT_DTYPES + ["bool"]:
        raise InputError(f"{field}.dtype", f"unknown dtype {short(dtype)}", f"one of {', '.join(DTYPES + INT_DTYPES)}",
                         ("dtype",))
    if kind == "random":
        arr = _random(field, spec, seed, limit, dry)
    elif kind == "one_hot":
        arr = _one_hot(field, spec)
    elif kind == "fill":
        shape = _check_shape(field, spec.get("shape", []), limit)
        if not _is_number(spec["fill"]):
            raise InputError(f"{field}.fill", f"must be one number, got {short(spec['fill'])}", "e.g. fill: 0.5", ("fill",))
        arr = np.full((0,) if dry else shape, spec["fill"])
    elif kind == "npy":
        arr = _npy(field, spec, base_dir)
    else:
        arr = _literal(f"{field}.value", spec["value"], ("value",))
    if arr.size > limit:
        raise InputError(field, f"{arr.size:,} elements, over the cap of {limit:,}", f"raise the cap with {MAX_ELEMENTS_ENV}=N")
    return arr, dtype


def materialize(field: str, spec: Any, role: str, dtype: str, *, seed: int, base_dir: Path,
                max_elements: int | None = None, dry: bool = False) -> Any:
    """The concrete value passed to both sides for one argument of one expanded case."""
    if role == "value" or spec is None:
        return _plain(spec)
    if role == "float_list":
        if not isinstance(spec, list):
            raise InputError(field, "must be a list of tensors", "e.g. t_list: [[1.0, 2.0], [[3.0]]]")
        out = []
        for i, item in enumerate(spec):
            try:
                out.append(materialize(f"{field}[{i}]", item, "float", dtype, seed=seed + i, base_dir=base_dir,
                                       max_elements=max_elements, dry=dry))
            except InputError as exc:
                raise InputError(exc.field, exc.problem, exc.hint, (i,) + exc.subpath) from None
        return out
    arr, explicit = raw_array(field, spec, seed=seed, base_dir=base_dir, max_elements=max_elements, dry=dry)
    if role == "int":
        if explicit is None and arr.dtype.kind == "f":
            raise InputError(field, "float values where integers are required", "write class indices like [2, 0]")
        if explicit is None and arr.dtype.kind not in "iub":
            raise InputError(field, f"expected integers, got {arr.dtype} values", "write class indices like [2, 0]")
        return arr.astype(np_dtype(explicit or "int32"))
    return cast_to(field, arr, np_dtype(explicit or dtype))


_SHARED: dict = {}
SHARED_BYTES = 32 << 20
"""Most bytes the arrays kept by :func:`materialize_shared` take together (the oldest go first)."""
_shared_bytes = [0]


def materialize_shared(field: str, spec: Any, role: str, dtype: str, *, seed: int, base_dir: Path) -> Any:
    """:func:`materialize`, with the arrays of a loaded case file's values kept and shared.

    A case's expansions (modes, matrix values) build the same arrays: an array of at most
    :data:`RAW_CACHE_MAX_ELEMENTS` elements built from a loaded spec (a ``LineDict`` or
    ``LineList``, never modified after loading; not ``npy:``, whose file may change) is kept
    by the spec object (held, so its id is not reused), role, dtype and seed, and the same
    array is handed to every later expansion. Kept arrays are read-only: nothing may change
    an input in place (an implementation that tried would raise instead of changing what the
    other side, or the next check, sees)."""
    if role in ("value", "float_list") or not isinstance(spec, (LineDict, LineList)) or generator_kind(spec) == "npy":
        return materialize(field, spec, role, dtype, seed=seed, base_dir=base_dir)
    key = (id(spec), role, dtype, seed, element_cap(), str(base_dir))
    hit = _SHARED.get(key)
    if hit is not None and hit[0] is spec:
        for note in hit[2]:  # every expansion of the case is told, not only the first
            warnings.warn(InputWarning(note), stacklevel=2)
        return hit[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        arr = materialize(field, spec, role, dtype, seed=seed, base_dir=base_dir)
    notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    for w in caught:  # re-raised here, as they came
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if arr.size <= RAW_CACHE_MAX_ELEMENTS:
        arr.flags.writeable = False
        _SHARED[key] = (spec, arr, notes)
        _shared_bytes[0] += arr.nbytes
        while _shared_bytes[0] > SHARED_BYTES:
            _shared_bytes[0] -= _SHARED.pop(next(iter(_SHARED)))[1].nbytes
    return arr


def _plain(spec: Any) -> Any:
    """LineDict/LineList -> plain dict/list for passing as a Python value."""
    if isinstance(spec, dict):
        return {k: _plain(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_plain(v) for v in spec]
    return spec


def describe(value: Any) -> str:
    """A short human description of an input for the report."""
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, np.ndarray):
        if value.size <= 12 and not value.dtype.hasobject:
            key = (value.dtype, value.shape, value.tobytes())
            text = _DESCRIBED.get(key)
            if text is None:
                if len(_DESCRIBED) >= 4096:
                    _DESCRIBED.clear()
                text = _DESCRIBED[key] = f"{_nested(value)} {value.dtype}"
            return text
        if value.size <= 12:
            return f"{_nested(value)} {value.dtype}"
        return f"array(shape={list(value.shape)}, {value.dtype})"
    return repr(value)


_DESCRIBED: dict = {}
"""Small arrays' descriptions by dtype, shape and bytes: a case's expansions describe the same inputs."""


def _nested(arr: np.ndarray) -> str:
    """``[[2.0, -1.0], [1.0, 0.0]]``: each element as its dtype's shortest round-trip string."""
    if arr.ndim == 0:
        return str(arr[()])
    return "[" + ", ".join(_nested(row) for row in arr) + "]"
