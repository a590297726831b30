"""Reference for the documents' worked examples that combine several ops.

``linear_softmax_clipped_grads`` is the training step of document 000: a linear layer
``z = x @ w + b``, the loss ``tf.losses.sparse_softmax_cross_entropy(labels, z)`` (mean over
the batch), its gradients with respect to the trainable variables ``[w, b]``, clipped with
``tf.clip_by_global_norm(grads, clip_norm)``. The gradient of the mean sparse
cross-entropy is analytic: ``dz = (softmax(z) - one_hot(labels)) / N``, ``dw = x^T dz``,
``db = sum_n dz``.
"""
from __future__ import annotations

import numpy as np

from harness.reference import stable
from harness.reference.clip import clip_by_global_norm


def linear_softmax_clipped_grads(x, labels, w, b, clip_norm=5.0):
    """([dw, db] clipped to a global norm of ``clip_norm``, the unclipped global norm)."""
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    labels = np.asarray(labels)
    z = x @ w + b
    p = stable.softmax(z, axis=-1)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(labels)), labels] = 1
    dz = (p - onehot) / p.dtype.type(len(labels))
    return clip_by_global_norm([x.T @ dz, dz.sum(axis=0)], clip_norm)
