"""Running one expanded case through the reference and TensorFlow and judging it.

The result is a plain dict (one entry of ``results.json``'s ``cases``). Checks, in order:
``reference vs tf`` (or, with ``expect_error``, that both sides raise the named class),
``expect vs tf`` / ``expect vs reference``, then each ``same_as`` / ``differs_from``.
"""
from __future__ import annotations

import math
import re
import shlex
import statistics
import time
import traceback
from typing import Any, Callable

import ml_dtypes
import numpy as np

from harness import finite_differences, inputs, tfbridge, tfexec
from harness.arbitrate import arbitrate
from harness.outputs import leaves
from harness.precision import gradient_precision, result_precision
from harness.compare import Comparison, common_dtype, compare
from harness.expand import Expanded
from harness.goldens.store import GoldenError
from harness.registry import OpSpec, get_op
from harness.result import CaseResult
from harness.tolerances import DEFAULTS, Tolerance, default_tolerance, grad_tolerance, resolve_tolerance
from harness.vocab import LOW_PRECISION, MODES

TIMING_REPEATS = 5
TIMING_BUDGET_S = 0.01  # per side and check: slow calls are timed fewer times
MAX_REPORTED_ELEMENTS = 1000
MAX_DIFF_ELEMENTS = 2500
_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


class _Raised:
    """An exception caught from one side, kept as a value."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.names = tfbridge.error_names(exc)

    def __str__(self) -> str:
        lines = [ln.strip() for ln in str(self.exc).strip().splitlines() if ln.strip()]
        text = lines[0] if lines else ""
        if text.endswith(":") and len(lines) > 1:  # tf.function's "in user code:" preamble: the cause is last
            text = f"{text} ... {lines[-1]}"
        return f"{type(self.exc).__name__}: {text}"[:500]


class _NoReference(_Raised):
    """``reference: false``: the case checks TF against itself (an identity) or a published value."""

    def __init__(self) -> None:
        super().__init__(LookupError("reference: false"))


_NO_REFERENCE = _NoReference()


def _call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # a side raising is a result, judged by the caller
        return _Raised(exc)


def median_time(fn: Callable[[], Any], repeats: int, budget_s: float | None = None) -> float | None:
    """Median wall time of ``repeats`` calls (None for 0 repeats); the caller warms up.

    With ``budget_s``, timing stops once that much time has been spent (after at least one
    call), as ``timeit``'s autorange bounds its own cost: a 40 ms call is timed once, a
    0.1 ms call ``repeats`` times."""
    if repeats <= 0:
        return None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if budget_s is not None and sum(times) >= budget_s:
            break
    return statistics.median(times)


def _pair_expect(expect: Any, output: Any) -> Any:
    """Give a published value the structure of the output (lists for tuple outputs)."""
    if isinstance(output, (list, tuple)):
        if not isinstance(expect, list) or len(expect) != len(output):
            raise ValueError(f"expect must be a list of {len(output)} items matching the op's outputs")
        return type(output)(_pair_expect(e, o) for e, o in zip(expect, output))
    return np.asarray(expect, dtype=np.float64)


def _check(name: str, actual: Any, desired: Any, tol: Tolerance, *, check_dtype: bool,
           names: tuple[str, str]) -> dict:
    """Compare two output trees leaf by leaf; the record of the worst leaf."""
    la, ld = leaves(actual), leaves(desired)
    if [p for p, _ in la] != [p for p, _ in ld]:
        return {"name": name, "ok": False, "kind": "structure",
                "message": f"{name}\nOutputs differ in structure: {names[0]} has {len(la)} outputs, {names[1]} has {len(ld)}"}
    record: dict = {"name": name, "ok": True, "message": "", "max_abs_err": None, "max_rel_err": None, "max_ulp": None,
                    "worst_index": None}
    compared = 0  # elements compared by value: finite on both sides
    for path, a in la:
        d = dict(ld)[path]
        header = f"{name}{' output ' + path if path else ''}"
        c: Comparison = compare(a, d, tol, check_dtype=check_dtype, names=names, header=header)
        compared += c.n_total if c.max_abs_err is not None else 0
        for key in ("max_abs_err", "max_rel_err", "max_ulp"):
            v = getattr(c, key)
            if v is not None and (record[key] is None or v > record[key]):
                record[key] = float(v)
        if not c.ok and record["ok"]:
            record.update(ok=False, kind=c.kind, message=c.message, leaf=path,
                          worst_index=list(c.worst_index) if c.worst_index is not None else None,
                          _comparison=c, _arrays=(a, d))
    if record["ok"] and not compared and any(a.size for _, a in la):
        record["positions_only"] = True  # every element NaN/inf on both sides, at the same places
    return record


def jsonable(x: Any, limit: int = MAX_REPORTED_ELEMENTS) -> Any:
    """Arrays -> nested lists with non-finite floats as strings ("nan", "inf", "-inf")."""
    if isinstance(x, (list, tuple)):
        return [jsonable(v, limit) for v in x]
    arr = np.asarray(x)
    floats = arr.dtype.kind in "fcV" or arr.dtype == _BFLOAT16
    if floats:
        arr = arr.astype(np.float64)
    if arr.size <= limit and (not floats or np.isfinite(arr).all()):
        return arr.tolist()
    flat = arr.ravel()[:limit].tolist()
    if floats:
        flat = [v if math.isfinite(v) else str(v) for v in flat]
    if arr.ndim == 0:
        return flat[0]
    if arr.size > limit:
        return flat
    return np.array(flat, dtype=object).reshape(arr.shape).tolist()


def _diff(record: dict, tol: Tolerance) -> dict | None:
    """Element grids for the HTML diff view of a failed 1-D/2-D comparison."""
    if "_arrays" not in record:
        return None
    a, d = record["_arrays"]
    if a.shape != d.shape or a.ndim not in (1, 2) or a.size > MAX_DIFF_ELEMENTS:
        return None
    wd = d.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a.astype(np.float64) - wd)
        allowed = tol.allowed(wd, d.dtype)
    bad = ~tol.passes(a, d, common_dtype(a.dtype, d.dtype))
    return {"abs_err": jsonable(err), "allowed": jsonable(allowed), "mismatch": bad.tolist(),
            "worst_index": record.get("worst_index"), "leaf": record.get("leaf", "")}


from harness.runner_refs import REUSE as _REUSE  # noqa: E402


def _reuse(field: str, text: str, given: dict) -> Any:
    """``$x`` (this case's ``x``) or ``$x + 100`` / ``$x * 0.5``: the same array, shifted or
    scaled in its own dtype — how identities like shift invariance are written."""
    m = _REUSE.match(text.strip())
    if not m:
        raise ValueError(f"{field}: {text!r} is not $name or $name <+|-|*|/> number")
    name, op, number = m.groups()
    if name not in given:
        raise ValueError(f"{field}: ${name} names no argument of this case (it has {', '.join(given)})")
    value = given[name]
    if op is None:
        return value
    arr = np.asarray(value)
    c = arr.dtype.type(float(number))
    return {"+": arr + c, "-": arr - c, "*": arr * c, "/": arr / c}[op]


def _mode_keyed(spec: Any) -> dict | None:
    """``{eager: ..., xla: ...}`` (keys all execution modes) or None."""
    if isinstance(spec, dict) and spec and set(spec) <= set(MODES):
        return spec
    return None


def by_mode(spec: Any, mode: str) -> Any:
    """The part of an ``expect`` / ``expect_error`` that applies to ``mode``: a mode-keyed
    mapping gives its entry for the mode (None when absent); anything else applies to all."""
    keyed = _mode_keyed(spec)
    if keyed is None:
        return spec
    return keyed.get(mode)


_UNSUPPORTED = re.compile(r"(No registered|Could not find device for node|no kernel|NotFoundError|not supported|"
                          r"Value for attr 'T' of \w+ is not in the list of allowed values)", re.I)


def _unsupported_dtype(out: Any, dtype: str) -> str | None:
    """TF's own reason when it has no kernel for a low-precision dtype (reported as skipped)."""
    if isinstance(out, _Raised) and dtype in LOW_PRECISION and _UNSUPPORTED.search(f"{out.names} {out.exc}"):
        return str(out).splitlines()[0][:300]
    return None


REPRO_REPORT_DIR = "reports/repro"
"""Where a repro command writes its report: not ``reports/``, which holds the last full run."""


def repro_command(path: str, case_id: str | None = None) -> str:
    """The command that reruns one case (``path::id``) or one file, in-process (``-n 0``: one
    case needs no workers, and each would import TF again) and into its own report directory."""
    target = f"{path}::{case_id}" if case_id else str(path)
    return f"python -m harness verify {shlex.quote(target)} --report-dir {REPRO_REPORT_DIR} -n 0"


def cotangents(exp: Expanded, out: Any) -> list[np.ndarray]:
    """The weights of each output leaf in the differentiated ``sum(output * cotangent)``:
    ones, or ``cotangent: {random: ...}`` drawn per leaf with a seed from the case id."""
    spec = exp.case.data.get("cotangent", "ones")
    cot = []
    for i, (_, leaf) in enumerate(leaves(out)):
        if spec == "ones":
            cot.append(np.ones(leaf.shape))
        else:
            cot.append(inputs.raw_array("cotangent", {**spec, "shape": list(leaf.shape)},
                                        seed=inputs.derive_seed(exp.case.id, f"cotangent{i}"),
                                        base_dir=exp.case.path.parent)[0].astype(np.float64))
    return cot


class CaseRun:
    """Everything computed for one expanded case; :meth:`result` is its report entry."""

    def __init__(self, exp: Expanded, *, timing_repeats: int = TIMING_REPEATS, strict: bool = False,
                 tf_side: Any = None) -> None:
        self.exp = exp
        self.tf_side = tf_side  # None: live TF; a GoldenTF: TF's recorded results (verify --goldens)
        self.timing_repeats = timing_repeats
        self.strict = strict
        self.checks: list[dict] = []
        self.record: dict = self._base_record()
        self.cost = {"check_s": 0.0, "tf_s": 0.0, "reference_s": 0.0, "timing_s": 0.0, "traced": False}
        self._started = time.perf_counter()
        self._traces_before = tfexec.TRACES.total()  # a check that raises it paid for a trace or an XLA compile

    def _base_record(self) -> dict:
        exp, data = self.exp, self.exp.case.data
        return {
            "id": exp.id, "base_id": exp.case.id, "params": exp.params, "file": exp.case.display_path,
            "line": exp.case.line, "op": exp.op.name, "dtype": exp.dtype, "status": None, "message": "",
            "max_abs_err": None, "max_rel_err": None, "max_ulp": None,
            "rtol": exp.tolerance.rtol, "atol": exp.tolerance.atol, "ulp": exp.tolerance.ulp,
            "tolerance_reason": exp.tolerance.reason,
            "time_reference_s": None, "time_tf_s": None, "repro": repro_command(exp.case.display_path, exp.id),
            "description": data.get("description"), "source": data.get("source"),
            "xfail_reason": data.get("xfail"), "warnings": list(exp.warnings),
            "checks": [], "outputs": {}, "inputs": {}, "diff": None,
        }

    # -- inputs -------------------------------------------------------------------------
    def _materialize(self, op: OpSpec, args: dict, init: dict, where: str = "") -> tuple[dict, dict]:
        exp = self.exp
        arrays = {}
        for name, spec in args.items():
            arg = op.arg(name)
            arrays[name] = inputs.materialize(
                f"{where}args.{name}", spec, arg.role if arg else "value", exp.dtype,
                seed=inputs.derive_seed(exp.case.id, where + name), base_dir=exp.case.path.parent)
        return arrays, {k: inputs._plain(v) for k, v in init.items()}

    def _related_args(self, where: str, spec: dict | None, given: dict, other: OpSpec, drop=()) -> dict:
        """Arguments of a same_as/differs_from computation: this case's (already built)
        arrays that the other op also takes, overridden by the computation's own values;
        ``$name`` reuses this case's ``name`` array itself, not a regenerated one."""
        out = {k: v for k, v in given.items() if other.arg(k) is not None and k not in drop}
        own = {}
        for k, v in (spec or {}).items():
            if isinstance(v, str) and v.startswith("$"):
                out[k] = _reuse(f"{where}args.{k}", v, given)
            else:
                own[k] = v
        out.update(self._materialize(other, own, {}, where)[0])
        return out

    def _sides(self, op: OpSpec, init: dict, args: dict, name: str = "tf"):
        """Both sides' results, and callables that time them (inputs converted to tensors once).
        ``name`` names the TF call in goldens: ``tf``, ``same_as[0]``, ``differs_from[1]``."""
        t0 = time.perf_counter()
        if self.exp.case.data.get("reference", True) is False:
            ref = _NO_REFERENCE
        else:
            ref = _call(lambda: op.run_reference(init, args))
        t1 = time.perf_counter()
        if self.tf_side is not None:
            out = self.tf_side.call(self.exp, name, op, init, args)
            self.cost["reference_s"] += t1 - t0
            return ref, out, (lambda: op.run_reference(init, args), None)
        tensors = {k: tfbridge.to_tf(v) for k, v in args.items() if tfexec._is_tensor(v)}
        values = {k: v for k, v in args.items() if not tfexec._is_tensor(v)}
        fn = tfexec.runner(op, init, values, self.exp.mode)
        t2 = time.perf_counter()
        out = _call(lambda: tfbridge.to_numpy(fn(tensors, None)[0]))
        self.cost["reference_s"] += t1 - t0
        self.cost["tf_s"] += time.perf_counter() - t2
        timers = (lambda: op.run_reference(init, args), lambda: fn(tensors, None))
        return ref, out, timers

    # -- judging ------------------------------------------------------------------------
    def run(self) -> dict:
        try:
            return self._run()
        except GoldenError as exc:  # verify --goldens: no recorded TF result for this case as written
            return self._finish("error", str(exc))

    def _run(self) -> dict:
        exp, rec = self.exp, self.record
        if exp.dtype not in exp.op.dtypes:
            return self._finish("skipped", f"{exp.op.name} is not run in {exp.dtype}: TF has no {exp.dtype} kernel for it on CPU")
        try:
            args, init = self._materialize(exp.op, exp.args, exp.init)
        except inputs.InputError as exc:
            return self._finish("error", f"{exp.case.display_path}:{exp.case.line}: {exc}")
        rec["inputs"] = {k: inputs.describe(v) for k, v in args.items()}
        self._init = init
        if exp.op.check is not None:
            problem = exp.op.check(init, args)
            if problem and not exp.case.data.get("expect_error"):
                return self._finish("error", f"{exp.case.display_path}:{exp.case.line}: args: {problem} (TF would reject these inputs)")
        ref, out, (time_ref, time_tf) = self._sides(exp.op, init, args)
        skip = _unsupported_dtype(out, exp.dtype)
        if skip:
            return self._finish("skipped", f"{exp.op.name} in {exp.dtype}: TF says {skip}")
        if self.expect_error is not None:
            self._judge_error(ref, out)
        else:
            self._judge_values(ref, out, args)
            if not isinstance(ref, _Raised) and not isinstance(out, _Raised):
                if exp.case.data.get("grad"):
                    self._judge_grads(init, args, out)
            if ref is _NO_REFERENCE and not isinstance(out, _Raised):
                rec["warnings"].append("reference: false — TF is checked against itself (same_as/differs_from) and expect only")
            t0 = time.perf_counter()
            if not isinstance(ref, _Raised) and not isinstance(out, _Raised):
                rec["time_reference_s"] = median_time(time_ref, self.timing_repeats, TIMING_BUDGET_S)
            if not isinstance(out, _Raised) and time_tf is not None:
                rec["time_tf_s"] = median_time(time_tf, self.timing_repeats, TIMING_BUDGET_S)
            self.cost["timing_s"] = time.perf_counter() - t0
        if exp.mode != "eager":
            rec["tf_traces"] = sum(n for key, n in tfexec.TRACES.items() if key[0] == exp.op.name and key[3] == exp.mode)
        self._judge_positions_only()
        ok = all(c["ok"] for c in self.checks)
        message = "\n\n".join(c["message"] for c in self.checks if not c["ok"])
        if exp.case.data.get("xfail"):
            return self._finish("xpassed" if ok else "xfailed", message or f"expected to fail ({exp.case.data['xfail']}) but passed")
        return self._finish("passed" if ok else "failed", message)

    def _judge_positions_only(self) -> None:
        """A check whose outputs are NaN or ±inf everywhere on both sides compared positions
        only, no value (``numpy.testing`` passes NaN against NaN too): a warning, or with
        ``strict`` a failure. A case with ``expect`` states the non-finite result itself."""
        if self.expect is not None:
            return
        for check in self.checks:
            if not check.get("positions_only"):
                continue
            text = (f"{check['name']}: every output element is NaN or ±inf on both sides, so only their positions "
                    "were compared, no value (draw the inputs from the op's domain, or pin the result with expect)")
            if self.strict:
                check.update(ok=False, kind="positions", message=f"{text}; --strict makes this a failure")
            else:
                self.record["warnings"].append(f"{text}; --strict makes this a failure")

    @property
    def expect_error(self):
        return by_mode(self.exp.case.data.get("expect_error"), self.exp.mode)

    @property
    def expect(self):
        data = self.exp.case.data
        return by_mode(data["expect"], self.exp.mode) if "expect" in data else None

    def _judge_error(self, ref: Any, out: Any) -> None:
        spec = self.expect_error
        name, pattern = (spec, None) if isinstance(spec, str) else (spec["type"], spec.get("match"))
        for side, value in (("tf", out), ("reference", ref)):
            if value is _NO_REFERENCE:
                continue
            if not isinstance(value, _Raised):
                msg = f"expect_error: {side} did not raise {name}; it returned {jsonable(leaves(value)[0][1], 10)}"
                self.checks.append({"name": f"{side} raises {name}", "ok": False, "message": msg})
            elif name not in value.names:
                self.checks.append({"name": f"{side} raises {name}", "ok": False,
                                    "message": f"expect_error: {side} raised {value} (not a {name})"})
            elif side == "tf" and pattern and not re.search(pattern, str(value.exc)):
                self.checks.append({"name": f"{side} raises {name}", "ok": False,
                                    "message": f"expect_error: tf raised {name} but its message does not match {pattern!r}: {value}"})
            else:
                self.checks.append({"name": f"{side} raises {name}", "ok": True, "message": "", "error": str(value)})
        self.record["outputs"] = {"reference": str(ref) if isinstance(ref, _Raised) else jsonable(ref),
                                  "tf": str(out) if isinstance(out, _Raised) else jsonable(out)}

    def _judge_values(self, ref: Any, out: Any, args: dict) -> None:
        exp, rec = self.exp, self.record
        self._tol = self._value_tolerance(out) if not isinstance(out, _Raised) else exp.tolerance
        rec["outputs"] = {"reference": str(ref) if isinstance(ref, _Raised) else jsonable(ref),
                          "tf": str(out) if isinstance(out, _Raised) else jsonable(out)}
        if isinstance(out, _Raised):
            self.checks.append({"name": "tf runs", "ok": False, "message": f"tf ({exp.mode}) raised {out}"})
            return
        keyed = _mode_keyed(exp.case.data.get("expect"))
        if ref is _NO_REFERENCE:
            pass
        elif isinstance(ref, _Raised):
            if keyed and exp.mode in keyed:
                # The reference mirrors eager TF (it raises); this mode's TF result is pinned by `expect`.
                rec["warnings"].append(f"reference raised {ref}; TF in {exp.mode} mode returned values, checked against "
                                       f"expect: {{{exp.mode}: ...}} only")
            else:
                detail = "".join(traceback.format_exception_only(type(ref.exc), ref.exc)).strip()
                self.checks.append({"name": "reference runs", "ok": False, "message": f"reference raised {detail[:800]}"})
                return
        else:
            tol = self._tol
            main = _check("reference vs tf", ref, out, tol, check_dtype=True, names=("reference", "tf"))
            self.checks.append(main)
            out_leaves = leaves(out)
            rec["output_shape"] = list(out_leaves[0][1].shape) if len(out_leaves) == 1 else None
            rec["truncated"] = any(a.size > MAX_REPORTED_ELEMENTS for _, a in out_leaves)
            rec["diff"] = _diff(main, tol)
            if not main["ok"] and main.get("kind") == "tolerance":
                rec["arbitration"] = arbitrate(exp.op, self._init, args, ref, out, exp.dtype)
        self._judge_expect(ref, out)
        for key in ("same_as", "differs_from"):
            for j, spec in enumerate(exp.case.data.get(key) or []):
                self._judge_related(key, j, spec, ref, out, args)

    def _precision(self, out: Any) -> str:
        """The precision TF's result actually carries (:func:`harness.precision.result_precision`)."""
        return result_precision(self.exp.dtype, out)

    def _value_tolerance(self, out: Any) -> Tolerance:
        """The case's tolerance; a default one follows the precision TF's result carries
        when that is not the case dtype's (``rtol``/``atol`` of that dtype, with a warning):
        float32 for a float64 Keras loss class (its result is float32) and for a float16 one
        (it computes in float32 and returns float32)."""
        tol = self.exp.tolerance
        if tol.source != "default":
            return tol
        precision = self._precision(out)
        if precision == self.exp.dtype:
            return tol
        self.record.update(rtol=DEFAULTS[precision][0], atol=DEFAULTS[precision][1])
        self.record["warnings"].append(f"TF returns {precision} for {self.exp.dtype} inputs: compared at {precision}'s tolerance")
        return default_tolerance(precision)

    def _judge_expect(self, ref: Any, out: Any) -> None:
        spec = self.expect
        if spec is None:
            return
        value, tol = spec, self._tol  # a default tolerance follows TF's precision, as for the values
        if isinstance(spec, dict):
            value = spec["value"]
            if spec.get("tolerance") is not None:
                tol = resolve_tolerance(spec["tolerance"], self.exp.dtype, field="expect.tolerance")
        try:
            expected = _pair_expect(value, out)
        except ValueError as exc:
            self.checks.append({"name": "expect", "ok": False, "message": f"expect: {exc}"})
            return
        self.record["outputs"]["expect"] = jsonable(expected)
        self.record["expect_tolerance"] = {"rtol": tol.rtol, "atol": tol.atol, "ulp": tol.ulp, "reason": tol.reason}
        for side, got in (("tf", out), ("reference", ref)):
            if not isinstance(got, _Raised):
                self.checks.append(_check(f"expect vs {side}", got, expected, tol, check_dtype=False, names=(side, "expect")))

    def _judge_grads(self, init: dict, args: dict, out: Any) -> None:
        """TF's GradientTape gradient of sum(output * cotangent) against the reference's."""
        exp = self.exp
        wrt = tuple(exp.case.data["grad"])
        cot = cotangents(exp, out)
        t0 = time.perf_counter()
        if self.tf_side is not None:
            tf_grads = self.tf_side.call(exp, "grad", exp.op, init, args, wrt, cot)
        else:
            tf_grads = _call(lambda: tfexec.run(exp.op, init, args, exp.mode, wrt, cot)[1])
        t1 = time.perf_counter()
        ref_grads = _call(lambda: finite_differences.reference_gradient(exp.op, init, args, wrt, cot))
        self.cost["tf_s"] += t1 - t0
        self.cost["reference_s"] += time.perf_counter() - t1
        for side, value in (("tf", tf_grads), ("reference", ref_grads)):
            if isinstance(value, _Raised):
                self.checks.append({"name": f"grad ({side})", "ok": False, "message": f"grad: {side} raised {value}"})
        if isinstance(tf_grads, _Raised) or isinstance(ref_grads, _Raised):
            return
        ref_grads, method = ref_grads
        self.record["grad_method"] = method
        # A gradient is returned in the input dtype: no finer than it, nor than the computation.
        precision = gradient_precision(exp.dtype, out)
        tol = grad_tolerance(precision, method)
        if precision != exp.dtype:
            self.record["warnings"].append(f"TF computes this op in {precision} for {exp.dtype} inputs: "
                                           f"gradients compared at {precision}'s gradient tolerance")
        self.record["grad_tolerance"] = {"rtol": tol.rtol, "atol": tol.atol}
        grads_out = {}
        for name in wrt:
            check = _check(f"grad {name}: reference ({method}) vs tf", ref_grads[name], tf_grads[name], tol,
                           check_dtype=False, names=("reference", "tf"))
            self.checks.append(check)
            grads_out[name] = {"reference": jsonable(ref_grads[name]), "tf": jsonable(tf_grads[name])}
            if not check["ok"] and self.record.get("diff") is None:
                self.record["diff"] = _diff(check, tol)
        self.record["outputs"]["grads"] = grads_out

    def _judge_related(self, key: str, j: int, spec: dict, ref: Any, out: Any, args: dict) -> None:
        exp = self.exp
        other = get_op(spec["op"])
        then = spec.get("then")
        label = (f"{key}[{j}] {other.name}" + (f" then {then}" if then else "")
                 + (f" x {spec['scale']:g}" if spec.get("scale") is not None else ""))
        try:
            o_args = self._related_args(f"{key}[{j}].", spec.get("args"), args, other, spec.get("drop") or ())
            o_init = inputs._plain(dict(spec.get("init") or {}))
        except (ValueError, inputs.InputError) as exc:
            self.checks.append({"name": label, "ok": False, "message": f"{label}: {exc}"})
            return
        o_ref, o_out, _ = self._sides(other, o_init, o_args, f"{key}[{j}]")
        reduce = {"mean": np.mean, "sum": np.sum, None: None}[then]
        for side, mine, theirs in (("tf", out, o_out), ("reference", ref, o_ref)):
            if mine is _NO_REFERENCE:
                continue
            name = f"{label} ({side})"
            if isinstance(theirs, _Raised):
                self.checks.append({"name": name, "ok": False, "message": f"{name}: raised {theirs}"})
                continue
            if reduce is not None:
                theirs = np.asarray(reduce(theirs)).astype(np.asarray(theirs).dtype)
            if spec.get("scale") is not None:
                theirs = (np.asarray(theirs) * spec["scale"]).astype(np.asarray(theirs).dtype)
            rec = _check(name, mine, theirs, exp.tolerance, check_dtype=False, names=("this case", "other"))
            if key == "differs_from":
                rec = {"name": name, "ok": not rec["ok"],
                       "message": "" if not rec["ok"] else f"{name}: expected the results to differ, but they agree within "
                       f"{exp.tolerance.describe()} (max abs difference {rec['max_abs_err']:.3g})",
                       "max_abs_err": rec["max_abs_err"]}
            self.checks.append(rec)

    def _finish(self, status: str, message: str) -> CaseResult:
        rec = self.record
        self.cost.update(check_s=time.perf_counter() - self._started - self.cost["timing_s"],
                         traced=tfexec.TRACES.total() > self._traces_before)
        rec["cost"] = self.cost
        rec["status"] = status
        rec["message"] = message
        decisive = self._decisive_check()
        if decisive is not None:
            for key in ("max_abs_err", "max_rel_err", "max_ulp"):
                rec[key] = decisive.get(key)
        rec["checks"] = [{k: v for k, v in c.items() if not k.startswith("_")} for c in self.checks]
        for c in rec["checks"]:
            if isinstance(c.get("worst_index"), tuple):
                c["worst_index"] = list(c["worst_index"])
        return CaseResult(**rec)

    def _decisive_check(self) -> dict | None:
        """The check whose errors the case reports: ``reference vs tf`` unless it passed and
        another check with element errors failed (a wrong ``expect``: its error, not 0)."""
        main = next((c for c in self.checks if c["name"] == "reference vs tf"), None)
        if main is not None and not main["ok"]:
            return main
        failed = (c for c in self.checks if not c["ok"] and c.get("max_abs_err") is not None)
        return next(failed, main)


def run_expanded(exp: Expanded, *, timing_repeats: int = TIMING_REPEATS, strict: bool = False,
                 tf_side: Any = None) -> CaseResult:
    return CaseRun(exp, timing_repeats=timing_repeats, strict=strict, tf_side=tf_side).run()


def case_inputs(exp: Expanded) -> tuple[dict, dict]:
    """The concrete ``(args, init)`` both sides get for ``exp``: arrays built exactly as a run builds them."""
    return CaseRun(exp, timing_repeats=0)._materialize(exp.op, exp.args, exp.init)
