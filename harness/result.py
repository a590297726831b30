"""The result of one expanded case, typed, and its one serialization: an entry of
``results.json``'s ``cases`` (schema in README "Report schema").

The runner builds a :class:`CaseResult` for every case it runs; the plugin builds the
short ones (:meth:`CaseResult.not_run`) for invalid input, crashes and timeouts. Workers
send :meth:`CaseResult.to_record` to the controller; the controller and the reports read
the fields of :meth:`CaseResult.from_record` (also for merged and older results files).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

RUN_KEYS = ("id", "base_id", "params", "file", "line", "op", "dtype", "impl", "status", "message",
            "max_abs_err", "max_rel_err", "max_ulp", "rtol", "atol", "ulp", "tolerance_reason",
            "time_reference_s", "time_tf_s", "repro", "description", "source", "xfail_reason", "warnings",
            "checks", "outputs", "inputs", "diff")
"""Keys of every case that ran, in the order they are written."""

NOT_RUN_KEYS = ("id", "base_id", "params", "file", "line", "op", "dtype", "impl", "status", "message",
                "max_abs_err", "max_rel_err", "max_ulp", "rtol", "atol", "time_reference_s", "time_tf_s", "repro")
"""Keys of a case that did not run (invalid input, a crash, a timeout)."""

OPTIONAL_KEYS = ("output_shape", "truncated", "arbitration", "expect_tolerance", "grad_method", "grad_tolerance", "tf_traces",
                 "cost", "invalid_input", "baseline", "ledger")
"""Written after the others, each only when set (``output_shape`` with ``truncated``)."""


@dataclass
class CaseResult:
    """One expanded case's verdict, numbers and evidence (see README "Report schema")."""

    id: str
    status: str | None = None
    message: str = ""
    base_id: str | None = None
    params: dict = field(default_factory=dict)
    file: str | None = None
    line: int | None = None
    op: str | None = None
    dtype: str | None = None
    impl: str | None = None
    """The name of the implementation under test (``numpy``: the NumPy reference); None for a
    case that checks TF alone (``reference: false``) or an invalid one."""
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    max_ulp: float | None = None
    rtol: float | None = None
    atol: float | None = None
    ulp: int | None = None
    tolerance_reason: str | None = None
    time_reference_s: float | None = None
    time_tf_s: float | None = None
    repro: str = ""
    description: str | None = None
    source: str | None = None
    xfail_reason: str | None = None
    warnings: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    """Each check as a mapping: ``name``, ``ok``, ``message`` and, by kind, ``max_abs_err``,
    ``max_rel_err``, ``max_ulp``, ``worst_index``, ``kind``, ``leaf``, ``error``."""
    outputs: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    diff: dict | None = None
    output_shape: list | None = None
    truncated: bool | None = None
    """Set (with ``output_shape``) once TF's values were compared with the reference's."""
    arbitration: dict | None = None
    expect_tolerance: dict | None = None
    """The tolerance ``expect`` was judged at (``rtol``, ``atol``, ``ulp``, ``reason``)."""
    grad_method: str | None = None
    grad_tolerance: dict | None = None
    tf_traces: int | None = None
    cost: dict | None = None
    invalid_input: bool | None = None
    baseline: str | None = None
    ledger: dict | None = None
    """A passed case's tolerance-ledger headrooms, kept in results.json instead of its
    outputs (:func:`harness.report.results.case_record`)."""
    ran: bool = True
    """False for a case that did not run: only :data:`NOT_RUN_KEYS` are written."""
    extra: dict = field(default_factory=dict)
    """Keys of a results file this version does not know, kept as they are."""
    layout: tuple[str, ...] | None = None
    """The keys, in order, of the results-file entry this was read from: written back the same."""

    @classmethod
    def not_run(cls, case_id: str, status: str, message: str, *, file: str | None, line: int | None,
                repro: str, base_id: str | None = None, op: str | None = None, dtype: str | None = None,
                invalid_input: bool | None = None, impl: str | None = None) -> "CaseResult":
        """The short result of a case that did not run: invalid input, a crash or a timeout."""
        return cls(id=case_id, status=status, message=message, base_id=base_id, file=file, line=line, op=op,
                   dtype=dtype, repro=repro, invalid_input=invalid_input, ran=False, impl=impl)

    @property
    def mode(self) -> str | None:
        return self.params.get("mode") if isinstance(self.params, Mapping) else None

    def to_record(self) -> dict:
        """The ``results.json`` entry: the keys of a run (or not-run) case, then the set optional ones."""
        if self.layout is not None:
            record = {key: self.extra[key] if key in self.extra else getattr(self, key) for key in self.layout}
        else:
            record = {key: getattr(self, key) for key in (RUN_KEYS if self.ran else NOT_RUN_KEYS)}
        for key in OPTIONAL_KEYS:
            value = getattr(self, key)
            if key not in record and (value is not None or (key == "output_shape" and self.truncated is not None)):
                record[key] = value
        record.update(self.extra)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "CaseResult":
        """A results.json entry (of this or an earlier version) as a CaseResult."""
        known = _RECORD_FIELDS
        values = {k: v for k, v in record.items() if k in known and v is not None}
        extra = {k: v for k, v in record.items() if k not in known}
        return cls(**{"id": str(record.get("id", "")), **values}, ran="checks" in record, extra=extra,
                   layout=tuple(record))


_RECORD_FIELDS = frozenset(f.name for f in fields(CaseResult)) - {"ran", "extra", "layout"}
"""The fields a results.json entry may set."""


def is_value_check(name: str) -> bool:
    """Whether a check is the main value comparison, ``reference vs tf`` (``torch vs tf`` when
    the implementation under test is the torch port)."""
    return name.endswith(" vs tf") and not name.startswith(("grad ", "expect ", "same_as", "differs_from"))


def as_result(case: "CaseResult | Mapping[str, Any]") -> CaseResult:
    """``case`` itself, or a results.json entry read as a :class:`CaseResult`."""
    return case if isinstance(case, CaseResult) else CaseResult.from_record(case)
