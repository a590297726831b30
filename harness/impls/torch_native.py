"""The implementation ``torch-native``: the PyTorch function a porter reaches for first, where it
is not TF's loss. Each entry is a wrong port on purpose; ``cases/ports/torch_native.yaml`` runs
them against TF and records the measured difference (xfail), ``harness.impls.torch_ops`` holds
the faithful translations.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "torch-native"
FRAMEWORK = "torch"

OPS = {
    # clamps log(p) at -100 instead of clipping p to [1e-7, 1 - 1e-7]: p = 0 with t = 1 costs 100, not 16.118
    "tf.keras.losses.binary_crossentropy": lambda y_true, y_pred, **kw: F.binary_cross_entropy(
        y_pred, y_true.to(y_pred.dtype), reduction="none").mean(-1),
    # log-probabilities first, the target second: given probabilities p it computes t (log t - p)
    "tf.keras.losses.kld": lambda y_true, y_pred: F.kl_div(y_pred, y_true.to(y_pred.dtype), reduction="none").sum(-1),
    # reduction 'mean' averages over every element (B x C), which is not KL ('batchmean' is)
    "tf.keras.losses.KLDivergence": lambda y_true, y_pred, **kw: F.kl_div(
        torch.log(y_pred), y_true.to(y_pred.dtype), reduction="mean"),
    # another loss: sum over i != y of max(0, 1 - x_y + x_i) / C with y = argmax(t)
    "tf.keras.losses.categorical_hinge": lambda y_true, y_pred: F.multi_margin_loss(
        y_pred, y_true.argmax(-1), reduction="none"),
    # +cos where Keras returns -cos
    "tf.keras.losses.cosine_similarity": lambda y_true, y_pred, axis=-1: F.cosine_similarity(
        y_true.to(y_pred.dtype), y_pred, dim=axis),
    # classes must be in dim 1: [B, T, C] logits given as they are make T the classes
    "tf.nn.softmax_cross_entropy_with_logits": lambda labels, logits, axis=-1: F.cross_entropy(
        logits, labels.to(logits.dtype), reduction="none"),
    # label_smoothing spreads over the class dimension; Keras divides by the last dimension
    "tf.keras.losses.CategoricalCrossentropy": lambda y_true, y_pred, label_smoothing=0.0, axis=-1, from_logits=False,
    **kw: F.cross_entropy(y_pred.movedim(axis, 1), y_true.to(y_pred.dtype).movedim(axis, 1),
                          label_smoothing=label_smoothing, reduction="none"),
    # TF's value, but not differentiable with respect to pos_weight (RuntimeError when it requires grad)
    "tf.nn.weighted_cross_entropy_with_logits": lambda labels, logits, pos_weight: F.binary_cross_entropy_with_logits(
        logits, labels, pos_weight=pos_weight, reduction="none"),
    # log of unclipped probabilities: p = 0 at the label costs inf where Keras clips to 16.118
    "tf.keras.losses.sparse_categorical_crossentropy": lambda y_true, y_pred, **kw: F.nll_loss(
        torch.log(y_pred), y_true.long(), reduction="none"),
}
