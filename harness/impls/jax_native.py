"""The implementation ``jax-native``: the optax function a porter reaches for first, where it is
not TF's loss. Each entry is a wrong port on purpose; ``cases/ports/jax_native.yaml`` runs them
against TF and records the measured difference (xfail), ``harness.impls.jax_ops`` holds the
faithful translations.
"""
from __future__ import annotations

import jax.numpy as jnp
import optax

import harness.impls.jax_ops  # noqa: F401  (switches on float64: jax_enable_x64)

NAME = "jax-native"
FRAMEWORK = "jax"

OPS = {
    # 0.5 (p - t)^2: half of the squared error that Keras averages
    "tf.keras.losses.mse": lambda y_true, y_pred: jnp.mean(optax.l2_loss(y_pred, y_true.astype(y_pred.dtype)), -1),
    # log-predictions first and nothing clipped: given probabilities it is not KL
    "tf.keras.losses.kld": lambda y_true, y_pred: optax.kl_divergence(y_pred, y_true.astype(y_pred.dtype)),
    # +cos where Keras returns -cos
    "tf.keras.losses.cosine_similarity": lambda y_true, y_pred, axis=-1: optax.cosine_similarity(
        y_pred, y_true.astype(y_pred.dtype)),
    # max_i(x_i + 1[i != y]) - x_y: Keras's (1 - t) p sets the true class's score to 0 instead
    "tf.keras.losses.categorical_hinge": lambda y_true, y_pred: optax.losses.multiclass_hinge_loss(
        y_pred, jnp.argmax(y_true, -1)),
    # log of unclipped probabilities: p = 0 at the label costs inf where Keras clips to 16.118
    "tf.keras.losses.categorical_crossentropy": lambda y_true, y_pred, **kw: optax.softmax_cross_entropy(
        jnp.log(y_pred), y_true.astype(y_pred.dtype)),
}
