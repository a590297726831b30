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
