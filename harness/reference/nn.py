"""Reference for ``tf.nn`` losses and activations."""
from __future__ import annotations

import numpy as np

from harness.reference import stable
from harness.reference.errors import InvalidArgumentError


def softmax(logits, axis=-1):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)."""
    return stable.softmax(np.asarray(logits), axis=axis)


def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """loss_i = logsumexp(logits_i) - logits_i[labels_i], for any leading rank.

    TF quirk mirrored: on CPU in eager mode a label outside [0, num_classes) raises
    InvalidArgumentError ("Received a label value of ... which is outside the valid
    range of [0, n)").
    """
    labels = np.asarray(labels)
    logits = np.asarray(logits)
    if labels.shape != logits.shape[:-1]:
        raise InvalidArgumentError(
            f"labels shape {list(labels.shape)} must equal logits shape without its last "
            f"dimension {list(logits.shape[:-1])}"
        )
    n = logits.shape[-1]
    bad = (labels < 0) | (labels >= n)
    if np.any(bad):
        value = labels[bad].flat[0]
        raise InvalidArgumentError(
            f"Received a label value of {value} which is outside the valid range of [0, {n})."
        )
    picked = np.take_along_axis(logits, labels[..., None].astype(np.intp), axis=-1)[..., 0]
    return stable.logsumexp(logits, axis=-1) - picked
