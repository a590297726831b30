"""Errors the reference raises, named after the TensorFlow error classes they mirror.

A case's ``expect_error: InvalidArgumentError`` is satisfied on the reference side by an
exception whose class name (or a base class name) equals the TF class name; the reference
never imports TensorFlow, so these are plain Python classes with the same names.
"""


class ReferenceError_(Exception):
    """Base of all reference errors."""


class InvalidArgumentError(ReferenceError_, ValueError):
    """Mirrors ``tf.errors.InvalidArgumentError`` (bad values or shapes seen at run time)."""


class TFValueError(ReferenceError_, ValueError):
    """Mirrors a Python ``ValueError`` raised by TF/Keras at graph-construction time.

    Its name for ``expect_error`` purposes is ``ValueError`` (a base class)."""


class TFTypeError(ReferenceError_, TypeError):
    """Mirrors a Python ``TypeError`` raised by TF/Keras (e.g. a dtype mismatch)."""


class StagingError(ReferenceError_):
    """Mirrors AutoGraph's ``StagingError``: under ``tf.function`` and XLA, a Python error
    that the traced code raises while the graph is built comes back as its own class only
    for the classes AutoGraph knows how to rebuild (ValueError, TypeError, AttributeError,
    RuntimeError, ...); any other, an IndexError among them, comes back as StagingError."""


class TFIndexError(StagingError, IndexError):
    """Mirrors a Python ``IndexError`` raised by Keras code (``y_true.shape[axis]`` with an
    axis outside the rank): TF raises IndexError eagerly and StagingError under
    ``tf.function`` and XLA. The reference answers to both names, so ``expect_error:
    {eager: IndexError, function: StagingError, xla: StagingError}`` holds for it in every
    mode, as ``check_axis``'s InvalidArgumentError (a ValueError) does for its modes."""


REDUCTION_AXIS = "Invalid reduction dimension ({axis} for input with {ndim} dimension(s)"
"""TF's reduction kernels (``Sum``, ``Mean``, ``Max``, ...) on an axis outside [-rank, rank)."""

SOFTMAX_AXIS = ("`dim` must be in the range [{low}, {ndim}) where {ndim} is the number of dimensions in the "
                "input. Received: dim={axis}")
"""``tf.nn.softmax`` / ``log_softmax`` (and Keras' ``ops.softmax``) on an axis outside [-rank, rank)."""

SLICE_INDEX = "slice index {index} of dimension 0 out of bounds."
"""A shape indexed by an axis outside [-rank, rank) (``tf.shape(x)[axis]``: ``StridedSlice``, which
names a negative axis plus the rank: -3 of a rank-2 shape is index -1)."""


def check_axis(axis, ndim: int, message: str = REDUCTION_AXIS) -> None:
    """TF's error for an ``axis`` (an int, a list or tuple of ints, or None: every axis)
    outside [-ndim, ndim): InvalidArgumentError with ``message`` (TF's reduction kernels'
    by default), where NumPy would raise its AxisError or, on the reference's float16 sums
    (which take axes modulo the rank), reduce another axis.

    That is TF's eager error. In ``tf.function`` and XLA modes TF finds the bad axis while
    building the graph and raises ValueError with the same words; InvalidArgumentError is
    a ValueError, so ``expect_error: {eager: InvalidArgumentError, function: ValueError}``
    holds for the reference in every mode."""
    for one in () if axis is None else axis if isinstance(axis, (list, tuple)) else (axis,):
        if one < -ndim or one >= ndim:
            raise InvalidArgumentError(message.format(axis=one, ndim=ndim, low=-ndim,
                                                     index=one + ndim if one < 0 else one))
