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

from harness.reference import nn, rowblocks, stable
from harness.reference.clip import clip_by_global_norm


def linear_softmax_clipped_grads(x, labels, w, b, clip_norm=5.0):
    """([dw, db] clipped to a global norm of ``clip_norm``, the unclipped global norm).

    dz = (softmax(x @ w + b) - one_hot(labels)) / N is formed in place in the softmax's
    output (p - 0 is p, so only the labels' entries change): the same bits as the
    whole-array formula with fewer logits-sized temporaries; the softmax runs in row
    blocks (``nn.softmax``: the same bits as ``stable.softmax`` below 4 MB of logits, TF's
    exp(s) * (1 / sum) above); large products on one BLAS thread (``rowblocks.matmul``)."""
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    labels = np.asarray(labels)
    z = rowblocks.matmul(x, w)
    if not _in_place(z, b):
        z = z + b
        p = stable.softmax(z, axis=-1)
        onehot = np.zeros_like(p)
        onehot[np.arange(len(labels)), labels] = 1
        dz = (p - onehot) / p.dtype.type(len(labels))
        return clip_by_global_norm([rowblocks.matmul(x.T, dz), dz.sum(axis=0)], clip_norm)
    z += b
    dz = nn.softmax(z, axis=-1)
    dz[np.arange(len(labels)), labels] -= dz.dtype.type(1)
    dz /= dz.dtype.type(len(labels))
    return clip_by_global_norm([rowblocks.matmul(x.T, dz), dz.sum(axis=0)], clip_norm)


def _in_place(z: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``z + b`` may be formed in ``z``: float32/float64 logits [N, C], non-empty,
    and a bias that neither widens their dtype nor their shape."""
    return (z.ndim == 2 and z.size > 0 and z.dtype.name in ("float32", "float64")
            and np.result_type(z, b) == z.dtype and np.broadcast_shapes(z.shape, b.shape) == z.shape)
