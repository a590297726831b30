"""Running one expanded case: inputs, both sides, the judges, timing, the result.

:class:`CaseRun` materializes the case's inputs, calls the TF side (:mod:`harness.tfexec`)
and the implementation under test (:mod:`harness.sides`, the NumPy reference by default),
hands their results to the judges (:mod:`harness.judges`) in this order: ``reference vs tf``
(or, with ``expect_error``, that both sides raise the named class), ``expect vs tf`` /
``expect vs reference``, each ``same_as`` / ``differs_from``, then gradients; then times
both calls and builds the :class:`~harness.result.CaseResult` (:mod:`harness.record`).
"""
from __future__ import annotations

import contextlib
import re
import statistics
import time
import warnings
from typing import Any, Callable

import numpy as np

from harness import inputs, judges, options, record, tfbridge, tfexec
from harness.arbitrate import arbitrate
from harness.expand import Expanded
from harness.outputs import leaves
from harness.registry import OpSpec, get_op
from harness.result import CaseResult
from harness.reuse import reuse
from harness.impls.side import implementation_side, skip_reason
from harness.sides import (NOT_RUN, NUMPY_REFERENCE, Implementation, Invocation, Raised, SideUnavailable, TFSide,
                           attempt)
from harness.tolerances import Tolerance
from harness.vocab import LOW_PRECISION

TIMING_REPEATS = options.default("timing-repeats")
TIMING_BUDGET_S = 0.01  # per side and check: slow calls are timed fewer times


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


_UNSUPPORTED = re.compile(r"(No registered|Could not find device for node|no kernel|NotFoundError|not supported|"
                          r"Value for attr 'T' of \w+ is not in the list of allowed values)", re.I)


def _unsupported_dtype(out: Any, dtype: str) -> str | None:
    """TF's own reason when it has no kernel for a low-precision dtype (reported as skipped)."""
    if isinstance(out, Raised) and dtype in LOW_PRECISION and _UNSUPPORTED.search(f"{out.names} {out.exc}"):
        return str(out).splitlines()[0][:300]
    return None


def cotangents(exp: Expanded, out: Any) -> list[np.ndarray]:
    """The weights of each output leaf in the differentiated ``sum(output * cotangent)``:
    ones, or ``cotangent: {random: ...}`` drawn per leaf with a seed from the case id."""
    spec = exp.case.data.get("cotangent", "ones")
    if spec == "ones":
        return [np.ones(leaf.shape) for _, leaf in leaves(out)]
    return [inputs.raw_array("cotangent", {**spec, "shape": list(leaf.shape)},
                             seed=inputs.derive_seed(exp.case.id, f"cotangent{i}"),
                             base_dir=exp.case.path.parent)[0].astype(np.float64)
            for i, (_, leaf) in enumerate(leaves(out))]


IGNORED_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning)
"""Warning classes an implementation's call passes on to Python instead of the case's warnings."""
WARNING_CHARS = 400
"""A noted warning's text is cut to this many characters."""


class CaseRun:
    """Everything computed for one expanded case; :meth:`run` returns its result.

    ``tf_side`` is the TF side (live TF by default; TF's recorded results with ``verify
    --goldens``) and ``implementation`` the implementation under test (None for a
    ``reference: false`` case, which checks TF against itself). ``strict``: a check that could
    compare no value (every output NaN/inf on both sides) fails instead of warning."""

    def __init__(self, exp: Expanded, *, timing_repeats: int = TIMING_REPEATS, strict: bool = False,
                 tf_side: TFSide | None = None, implementation: Implementation | None = None) -> None:
        self.exp = exp
        self.timing_repeats = timing_repeats
        self.strict = strict
        self.tf = tfexec.LIVE_TF if tf_side is None else tf_side
        if exp.case.data.get("reference", True) is False or exp.impl is None:
            self.implementation = None
        else:
            self.implementation = implementation or implementation_side(exp.impl)
        self.side = getattr(self.implementation, "name", NUMPY_REFERENCE.name)
        """How messages name the implementation under test: ``reference`` for the NumPy reference."""
        self.checks: list[dict] = []
        self.result = record.start(exp)
        self.cost = {"check_s": 0.0, "tf_s": 0.0, "reference_s": 0.0, "timing_s": 0.0, "traced": False}
        self._started = time.perf_counter()
        self._traces_before = tfexec.TRACES.total()  # a check that raises it paid for a trace or an XLA compile

    # -- inputs -------------------------------------------------------------------------
    def materialize(self, op: OpSpec, args: dict, init: dict, where: str = "") -> tuple[dict, dict]:
        """The case's arguments as arrays (generators run, dtypes cast) and plain constructor arguments."""
        exp = self.exp
        arrays = {}
        base_dir = exp.case.path.parent
        # an input the dtype cannot hold goes to the case's warnings
        with self._case_warnings(lambda kind: issubclass(kind, inputs.InputWarning),
                                 lambda w: f"{exp.case.display_path}:{exp.case.line}: {w.message}"):
            for name, spec in args.items():
                arg = op.arg(name)
                arrays[name] = inputs.materialize_shared(
                    f"{where}args.{name}", spec, arg.role if arg else "value", exp.dtype,
                    seed=inputs.derive_seed(exp.case.id, where + name), base_dir=base_dir)
        return arrays, {k: inputs._plain(v) for k, v in init.items()}

    def _related_args(self, where: str, spec: dict | None, given: dict, other: OpSpec, drop=()) -> dict:
        """Arguments of a same_as/differs_from computation: this case's (already built)
        arrays that the other op also takes, overridden by the computation's own values;
        ``$name`` reuses this case's ``name`` array itself, not a regenerated one."""
        out = {k: v for k, v in given.items() if other.arg(k) is not None and k not in drop}
        own = {}
        for k, v in (spec or {}).items():
            if isinstance(v, str) and v.startswith("$"):
                out[k] = reuse(f"{where}args.{k}", v, given)
            else:
                own[k] = v
        out.update(self.materialize(other, own, {}, where)[0])
        return out

    # -- the sides ----------------------------------------------------------------------
    def _sides(self, inv: Invocation) -> tuple[Any, Any, Callable[[], Any]]:
        """Both sides' results (a :class:`Raised` for an error) and the prepared TF call."""
        t0 = time.perf_counter()
        with self._implementation_warnings():
            ref = NOT_RUN if self.implementation is None else attempt(lambda: self.implementation.call(inv))
        t1 = time.perf_counter()
        tf_call = self.tf.prepare(inv)
        t2 = time.perf_counter()
        out = attempt(lambda: tfbridge.to_numpy(tf_call()))
        self.cost["reference_s"] += t1 - t0
        self.cost["tf_s"] += time.perf_counter() - t2
        return ref, out, tf_call

    @contextlib.contextmanager
    def _case_warnings(self, kept: Callable[[type], bool], text: Callable[[Any], str]):
        """Warnings raised inside the block whose class ``kept`` accepts go to the case's
        warnings as ``text(warning)`` (cut to ``WARNING_CHARS``), each text once, instead of
        pytest's summary at the end of the run; any other passes on to Python's filters."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            if not kept(w.category):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                continue
            noted = text(w)[:WARNING_CHARS]
            if noted not in self.result.warnings:
                self.result.warnings.append(noted)

    def _implementation_warnings(self):
        """What the implementation under test warns inside the block (a port's own
        ``UserWarning``, a framework's note on its arguments) is in the case's warnings;
        deprecation notices, which no case can act on, pass on. TF's own warnings are not
        caught: a run on TF's recorded results (``--goldens``) could not repeat them."""
        return self._case_warnings(lambda kind: not issubclass(kind, IGNORED_WARNINGS),
                                   lambda w: f"{self.side} warned: {w.category.__name__}: {w.message}")

    def _judge_inputs_kept(self) -> None:
        """An implementation that modified its input arrays in place fails the case."""
        modified = getattr(self.implementation, "modified", None)
        if modified:
            self.checks.append({"name": f"{self.side} keeps its inputs", "ok": False,
                                "message": f"{self.side} modified its input {', '.join(modified)} in place "
                                           "(the harness gave it copies; TF got the originals)"})

    # -- the case -----------------------------------------------------------------------
    def run(self) -> CaseResult:
        try:
            return self._run()
        except SideUnavailable as exc:  # e.g. verify --goldens: no recorded TF result for this case as written
            return self._finish("error", str(exc))

    def _run(self) -> CaseResult:
        exp, res = self.exp, self.result
        if exp.dtype not in exp.op.dtypes:
            return self._finish("skipped", f"{exp.op.name} is not run in {exp.dtype}: TF has no {exp.dtype} kernel for it on CPU")
        try:
            args, init = self.materialize(exp.op, exp.args, exp.init)
        except inputs.InputError as exc:
            return self._finish("error", f"{exp.case.display_path}:{exp.case.line}: {exc}")
        res.inputs = {k: inputs.describe(v) for k, v in args.items()}
        not_run = getattr(self.implementation, "not_run_reason", lambda op, dtype: None)(exp.op, exp.dtype)
        if not_run:
            return self._finish("skipped", not_run)
        if exp.op.check is not None:
            problem = exp.op.check(init, args)
            if problem and not exp.case.data.get("expect_error"):
                return self._finish("error", f"{exp.case.display_path}:{exp.case.line}: args: {problem} (TF would reject these inputs)")
        inv = Invocation(exp.op, init, args, exp.mode, exp.dtype, case=exp)
        ref, out, tf_call = self._sides(inv)
        skip = _unsupported_dtype(out, exp.dtype)
        if skip:
            return self._finish("skipped", f"{exp.op.name} in {exp.dtype}: TF says {skip}")
        if skip_reason(ref):
            return self._finish("skipped", skip_reason(ref))
        self._judge_inputs_kept()
        res.outputs = {"reference": judges.shown(ref), "tf": judges.shown(out)}
        expect_error = judges.by_mode(exp.case.data.get("expect_error"), exp.mode)
        if expect_error is not None:
            self.checks += judges.judge_error(expect_error, ref, out, self.side)
        else:
            self._judge_values(inv, ref, out)
            self._time(inv, ref, out, tf_call)
        if exp.mode != "eager":
            res.tf_traces = sum(n for key, n in tfexec.TRACES.items() if key[0] == exp.op.name and key[3] == exp.mode)
        if self._expect() is None:  # a case with expect states a non-finite result itself
            res.warnings += judges.positions_only(self.checks, self.strict)
        return self._finish(*record.verdict(self.checks, exp.case.data.get("xfail")))

    def _judge_values(self, inv: Invocation, ref: Any, out: Any) -> None:
        """reference vs tf, expect, same_as / differs_from, then gradients."""
        exp = self.exp
        if isinstance(out, Raised):
            self.checks.append({"name": "tf runs", "ok": False, "message": f"tf ({exp.mode}) raised {out}"})
            return
        tol = self._value_tolerance(out)
        if ref is not NOT_RUN and not self._judge_main(inv, ref, out, tol):
            return
        expect = self._expect()
        if expect is not None:  # a default tolerance follows TF's precision, as for the values
            checks, expected, etol = judges.judge_expect(expect, ref, out, tol, exp.dtype, self.side)
            self.checks += checks
            if expected is not None:
                self.result.outputs["expect"] = expected
                self.result.expect_tolerance = {"rtol": etol.rtol, "atol": etol.atol, "ulp": etol.ulp,
                                                "reason": etol.reason}
        for key in ("same_as", "differs_from"):
            for j, spec in enumerate(exp.case.data.get(key) or []):
                self._judge_related(inv, key, j, spec, ref, out)
        if not isinstance(ref, Raised) and exp.case.data.get("grad"):
            self._judge_grads(inv, out)
        if ref is NOT_RUN:
            self.result.warnings.append("reference: false — TF is checked against itself (same_as/differs_from) and expect only")

    def _expect(self) -> Any:
        """The case's ``expect`` for this mode, or None."""
        data = self.exp.case.data
        return judges.by_mode(data["expect"], self.exp.mode) if "expect" in data else None

    def _value_tolerance(self, out: Any) -> Tolerance:
        """The tolerance TF's values are judged at (:func:`harness.judges.value_tolerance`);
        when it follows TF's precision, the result says so."""
        tol, warning = judges.value_tolerance(self.exp.tolerance, self.exp.dtype, out)
        if warning:
            self.result.rtol, self.result.atol = tol.rtol, tol.atol
            self.result.warnings.append(warning)
        return tol

    def _judge_main(self, inv: Invocation, ref: Any, out: Any, tol: Tolerance) -> bool:
        """``reference vs tf`` (False: the reference raised and nothing else can be judged)."""
        exp, res = self.exp, self.result
        if isinstance(ref, Raised):
            keyed = judges.mode_keyed(exp.case.data.get("expect"))
            if keyed and exp.mode in keyed:
                # The reference mirrors eager TF (it raises); this mode's TF result is pinned by `expect`.
                res.warnings.append(f"reference raised {ref}; TF in {exp.mode} mode returned values, checked against "
                                    f"expect: {{{exp.mode}: ...}} only")
                return True
            self.checks.append(judges.reference_raised(ref, self.side))
            return False
        main = judges.judge_value(ref, out, tol, self.side)
        self.checks.append(main)
        res.output_shape, res.truncated = judges.output_facts(out)
        res.diff = judges.diff_grid(main, tol)
        if not main["ok"] and main.get("kind") == "tolerance" and self.implementation is NUMPY_REFERENCE:
            with self._implementation_warnings():
                res.arbitration = arbitrate(lambda wide: self.implementation.call(inv.with_args(wide)), inv.args,
                                            ref, out, exp.dtype)
        return True

    def _judge_related(self, inv: Invocation, key: str, j: int, spec: dict, ref: Any, out: Any) -> None:
        other = get_op(spec["op"])
        label = judges.related_label(key, j, spec, other.name)
        try:
            o_args = self._related_args(f"{key}[{j}].", spec.get("args"), inv.args, other, spec.get("drop") or ())
            o_init = inputs._plain(dict(spec.get("init") or {}))
        except (ValueError, inputs.InputError) as exc:
            self.checks.append({"name": label, "ok": False, "message": f"{label}: {exc}"})
            return
        o_ref, o_out, _ = self._sides(Invocation(other, o_init, o_args, inv.mode, inv.dtype, case=self.exp,
                                                 name=f"{key}[{j}]"))
        if skip_reason(o_ref):  # the implementation lacks the other op: TF's side is still checked
            self.result.warnings.append(f"{label}: checked on TF only ({skip_reason(o_ref)})")
            ref = NOT_RUN
        self.checks += judges.judge_related(key, label, spec, {"tf": out, "reference": ref},
                                            {"tf": o_out, "reference": o_ref}, self.exp.tolerance, self.side)

    def _judge_grads(self, inv: Invocation, out: Any) -> None:
        """TF's GradientTape gradient of sum(output * cotangent) against the implementation's."""
        exp, res = self.exp, self.result
        wrt = tuple(exp.case.data["grad"])
        cot = cotangents(exp, out)
        t0 = time.perf_counter()
        tf_grads = attempt(lambda: self.tf.gradients(inv, cot, wrt))
        t1 = time.perf_counter()
        with self._implementation_warnings():
            ref_grads = attempt(lambda: self.implementation.gradients(inv, cot, wrt))
        self.cost["tf_s"] += t1 - t0
        self.cost["reference_s"] += time.perf_counter() - t1
        if skip_reason(ref_grads):
            res.warnings.append(f"gradients not checked: {skip_reason(ref_grads)}")
            return
        for side, value in (("tf", tf_grads), (self.side, ref_grads)):
            if isinstance(value, Raised):
                self.checks.append({"name": f"grad ({side})", "ok": False, "message": f"grad: {side} raised {value}"})
        if isinstance(tf_grads, Raised) or isinstance(ref_grads, Raised):
            return
        ref_grads, method = ref_grads
        res.grad_method = method
        tol, warning = judges.gradient_tolerance(exp.dtype, out, method)
        if warning:
            res.warnings.append(warning)
        res.grad_tolerance = {"rtol": tol.rtol, "atol": tol.atol}
        checks = judges.judge_gradients(ref_grads, tf_grads, wrt, tol, method, self.side)
        self.checks += checks
        failed = next((c for c in checks if not c["ok"]), None)
        if failed is not None and res.diff is None:
            res.diff = judges.diff_grid(failed, tol)
        res.outputs["grads"] = {name: {"reference": judges.shown(ref_grads[name]), "tf": judges.shown(tf_grads[name])}
                                for name in wrt}

    def _time(self, inv: Invocation, ref: Any, out: Any, tf_call: Callable[[], Any]) -> None:
        """Median time of each side's call (after the check, which was the warm-up)."""
        t0 = time.perf_counter()
        if not isinstance(out, Raised):
            if not isinstance(ref, Raised):
                with self._implementation_warnings():  # the check's own call has already said it
                    self.result.time_reference_s = median_time(self.implementation.prepare(inv), self.timing_repeats,
                                                               TIMING_BUDGET_S)
            if self.tf.timed:
                self.result.time_tf_s = median_time(tf_call, self.timing_repeats, TIMING_BUDGET_S)
        self.cost["timing_s"] = time.perf_counter() - t0

    def _finish(self, status: str, message: str) -> CaseResult:
        self.cost.update(check_s=time.perf_counter() - self._started - self.cost["timing_s"],
                         traced=tfexec.TRACES.total() > self._traces_before)
        return record.finish(self.result, status, message, self.checks, self.cost)


def run_expanded(exp: Expanded, *, timing_repeats: int = TIMING_REPEATS, strict: bool = False,
                 tf_side: TFSide | None = None) -> CaseResult:
    return CaseRun(exp, timing_repeats=timing_repeats, strict=strict, tf_side=tf_side).run()


def case_inputs(exp: Expanded) -> tuple[dict, dict]:
    """The concrete ``(args, init)`` both sides get for ``exp``: arrays built exactly as a run builds them."""
    return CaseRun(exp, timing_repeats=0).materialize(exp.op, exp.args, exp.init)
