"""Turning a case's argument values (literals or generators) into NumPy arrays.

Everything here is deterministic: a generator without ``seed`` is seeded from the case id
and the argument name (CRC-32), so every run and every dtype of a case sees the same data.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from harness.schema import DTYPES, INT_DTYPES

MAX_ELEMENTS = 50_000_000
GENERATOR_KEYS = {
    "random": {"random", "shape", "seed", "loc", "scale", "low", "high", "dtype"},
    "one_hot": {"one_hot", "depth", "on_value", "off_value"},
    "fill": {"fill", "shape", "dtype"},
    "npy": {"npy", "dtype"},
    "value": {"value", "dtype"},
}
RANDOM_KINDS = ("normal", "uniform", "integers", "simplex")


class InputError(ValueError):
    """A bad argument value: ``field`` is the dotted path, ``hint`` how to fix it."""

    def __init__(self, field: str, problem: str, hint: str = "") -> None:
        super().__init__(f"{field}: {problem}" + (f" ({hint})" if hint else ""))
        self.field = field
        self.problem = problem
        self.hint = hint


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


def _check_shape(field: str, shape: Any, max_elements: int) -> tuple[int, ...]:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise InputError(f"{field}.shape", f"must be a list of integers, got {shape!r}", "e.g. shape: [64, 10]")
    if any(d < 0 for d in shape):
        raise InputError(f"{field}.shape", f"negative dimension in {shape}", "dimensions must be >= 0")
    n = int(np.prod(shape, dtype=np.float64))
    if n > max_elements:
        raise InputError(
            f"{field}.shape", f"{shape} has {n:,} elements, over the cap of {max_elements:,}",
            "use a smaller shape or raise --max-elements",
        )
    return tuple(shape)


def _literal(field: str, value: Any) -> np.ndarray:
    """A nested list of numbers (YAML .inf/.nan allowed) as an array; refuses ragged lists."""
    def walk(v: Any, path: str) -> Any:
        if isinstance(v, list):
            return [walk(x, f"{path}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(path, f"non-numeric element {v!r}", "use numbers, .inf, -.inf or .nan")
        return v

    checked = walk(value, field)
    try:
        return np.array(checked)
    except ValueError:
        raise InputError(field, "ragged nested list (rows of different lengths)", "every row needs the same length") from None


def _random(field: str, spec: dict, seed: int, max_elements: int, dry: bool) -> np.ndarray:
    kind = spec["random"]
    if kind not in RANDOM_KINDS:
        raise InputError(f"{field}.random", f"unknown generator {kind!r}", f"one of {', '.join(RANDOM_KINDS)}")
    shape = _check_shape(field, spec.get("shape", []), max_elements)
    if kind == "integers" and "high" not in spec:
        raise InputError(f"{field}.high", "missing", "integers need high (exclusive), e.g. high: 10")
    if dry:
        return np.zeros(0, dtype=np.int64 if kind == "integers" else np.float64)
    rng = np.random.default_rng(spec.get("seed", seed))
    if kind == "normal":
        return rng.normal(spec.get("loc", 0.0), spec.get("scale", 1.0), size=shape)
    if kind == "uniform":
        return rng.uniform(spec.get("low", 0.0), spec.get("high", 1.0), size=shape)
    if kind == "integers":
        return rng.integers(spec.get("low", 0), spec["high"], size=shape)
    # simplex: rows on the probability simplex (Dirichlet(1) along the last axis)
    if not shape:
        raise InputError(f"{field}.shape", "simplex needs at least one dimension", "e.g. shape: [64, 10]")
    return rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]) if shape[-1] else np.zeros(shape)


def _npy(field: str, spec: dict, base_dir: Path) -> np.ndarray:
    rel = Path(str(spec["npy"]))
    path = (base_dir / rel).resolve()
    if rel.is_absolute() or not path.is_relative_to(base_dir.resolve()):
        raise InputError(f"{field}.npy", f"path {str(rel)!r} escapes the case directory", "keep data files beside the YAML file")
    if not path.is_file():
        raise InputError(f"{field}.npy", f"file {str(rel)!r} not found", f"looked in {base_dir}")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"{field}.npy", f"cannot load {str(rel)!r}: {exc}", "save with np.save, no object arrays") from None


def raw_array(field: str, spec: Any, *, seed: int, base_dir: Path, max_elements: int = MAX_ELEMENTS,
              dry: bool = False) -> tuple[np.ndarray, str | None]:
    """The array a value spec describes, and the dtype it names explicitly (or None).

    ``dry=True`` validates without generating large data (used at load time)."""
    kind = generator_kind(spec)
    if kind is None:
        if isinstance(spec, dict):
            raise InputError(field, f"unknown value form with keys {sorted(spec)}", f"use a list or one of {', '.join(GENERATOR_KEYS)}")
        arr = _literal(field, spec)
        if arr.size > max_elements:
            raise InputError(field, f"{arr.size:,} elements, over the cap of {max_elements:,}")
        return arr, None
    extra = set(spec) - GENERATOR_KEYS[kind]
    if extra:
        raise InputError(f"{field}.{sorted(extra)[0]}", f"unknown key for a {kind} generator", f"allowed: {', '.join(sorted(GENERATOR_KEYS[kind]))}")
    dtype = spec.get("dtype")
    if dtype is not None and dtype not in DTYPES + INT_DTYPES + ["bool"]:
        raise InputError(f"{field}.dtype", f"unknown dtype {dtype!r}", f"one of {', '.join(DTYPES + INT_DTYPES)}")
    if kind == "random":
        arr = _random(field, spec, seed, max_elements, dry)
    elif kind == "one_hot":
        idx = _literal(f"{field}.one_hot", spec["one_hot"])
        depth = spec.get("depth")
        if not isinstance(depth, int) or depth <= 0:
            raise InputError(f"{field}.depth", f"must be a positive integer, got {depth!r}", "e.g. depth: 3")
        on, off = spec.get("on_value", 1.0), spec.get("off_value", 0.0)
        arr = np.where(np.arange(depth) == idx[..., None], on, off).astype(np.float64)
    elif kind == "fill":
        shape = _check_shape(field, spec.get("shape", []), max_elements)
        arr = np.full((0,) if dry else shape, _literal(f"{field}.fill", spec["fill"]))
    elif kind == "npy":
        arr = _npy(field, spec, base_dir)
    else:
        arr = _literal(f"{field}.value", spec["value"])
    return arr, dtype


def materialize(field: str, spec: Any, role: str, dtype: str, *, seed: int, base_dir: Path,
                max_elements: int = MAX_ELEMENTS, dry: bool = False) -> Any:
    """The concrete value passed to both sides for one argument of one expanded case."""
    if role == "value" or spec is None:
        return _plain(spec)
    if role == "float_list":
        if not isinstance(spec, list):
            raise InputError(field, "must be a list of tensors", "e.g. t_list: [[1.0, 2.0], [[3.0]]]")
        return [
            materialize(f"{field}[{i}]", s, "float", dtype, seed=seed + i, base_dir=base_dir,
                        max_elements=max_elements, dry=dry)
            for i, s in enumerate(spec)
        ]
    arr, explicit = raw_array(field, spec, seed=seed, base_dir=base_dir, max_elements=max_elements, dry=dry)
    if role == "int":
        if explicit is None and arr.dtype.kind == "f":
            raise InputError(field, "float values where integers are required", "write class indices like [2, 0]")
        if explicit is None and arr.dtype.kind not in "iub":
            raise InputError(field, f"expected integers, got {arr.dtype}")
        return arr.astype(np_dtype(explicit or "int32"))
    return arr.astype(np_dtype(explicit or dtype))


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
        if value.size <= 12:
            body = np.array2string(value.astype(np.float64) if value.dtype.kind == "V" or str(value.dtype) == "bfloat16" else value,
                                   separator=", ", max_line_width=200)
            return f"{body} {value.dtype}"
        return f"array(shape={list(value.shape)}, {value.dtype})"
    return repr(value)
