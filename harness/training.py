"""Document 004's training claim, measured: ``from_logits=True`` trains its model to
accuracy 0.8812, ``from_logits=False`` on the same logits output to 0.332.

The document's model shape (Flatten, Dense(128, relu), Dense(10) without softmax, Adam,
10 epochs, SparseCategoricalCrossentropy; batches of 64) is trained with Keras 2 (``tf_keras``, the Keras
the document was written for) on scikit-learn's digits (1,797 8x8 images in 10 classes,
shipped inside the package; the document's Fashion-MNIST needs a download), pixels scaled
to [0, 1], the first 1,297 images for training and the last 500 for testing, with fixed
seeds, once with each ``from_logits``.

Then the first steps of plain SGD from the model's initial weights are taken twice: by
tf_keras (``train_on_batch``) and by a NumPy loop whose loss is the reference's
``tf_keras.losses.SparseCategoricalCrossentropy`` and whose gradient with respect to the
logits is the central finite difference of that reference in float64
(``harness.finite_differences.finite_difference``: the op's analytic gradient, in float32
as TF computes it, is as close to TF's at each step, but the clipped loss of
``from_logits=False`` amplifies its rounding differences over the steps), back-propagated
through the two dense layers in NumPy. The two loss trajectories are compared step by step.

    python -m harness.training          # prints the measurements as JSON
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

TRAIN = 1297
SEED = 0
EPOCHS = 10
SGD_STEPS = 10
SGD_BATCH = 32
FIT_BATCH = 64
STEPS_PER_EXECUTION = 10
SGD_LR = 0.1
OP = "tf_keras.losses.SparseCategoricalCrossentropy"


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels), images float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = data.target.astype(np.int32)
    return images[:TRAIN], labels[:TRAIN], images[TRAIN:], labels[TRAIN:]


def _model(tf_keras, optimizer, from_logits: bool, steps_per_execution: int = 1):
    tf_keras.utils.set_random_seed(SEED)
    model = tf_keras.Sequential([
        tf_keras.layers.Flatten(input_shape=(8, 8)),
        tf_keras.layers.Dense(128, activation="relu"),
        tf_keras.layers.Dense(10),
    ])
    model.compile(optimizer=optimizer, metrics=["accuracy"], steps_per_execution=steps_per_execution,
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    return model


def fit_accuracy(from_logits: bool) -> dict:
    """Test accuracy and final training loss after the document's ``fit``."""
    import tf_keras

    x, y, x_test, y_test = digits()
    model = _model(tf_keras, "adam", from_logits, STEPS_PER_EXECUTION)
    history = model.fit(x, y, epochs=EPOCHS, batch_size=FIT_BATCH, verbose=0, shuffle=True)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"from_logits": from_logits, "test_accuracy": float(accuracy),
            "final_train_loss": float(history.history["loss"][-1])}


def numpy_sgd(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, from_logits: bool) -> list[float]:
    """Plain SGD on the two dense layers in NumPy: the loss and its gradient with respect to
    the logits from the reference, back-propagated by hand. Returns the loss of each step
    (before its update)."""
    from harness.finite_differences import finite_difference
    from harness.registry import get_op

    op, init = get_op(OP), {"from_logits": from_logits}
    w1, b1, w2, b2 = (w.astype(np.float32) for w in weights)
    flat = x.reshape(len(x), -1)
    losses = []
    for _ in range(SGD_STEPS):
        pre = flat @ w1 + b1
        hidden = np.maximum(pre, np.float32(0))
        logits = hidden @ w2 + b2
        args = {"y_true": y, "y_pred": logits}
        losses.append(float(op.run_reference(init, args)))
        grads, _ = finite_difference(op, init, args, ("y_pred",), [np.ones(())])
        d_logits = grads["y_pred"].astype(np.float32)
        d_hidden = (d_logits @ w2.T) * (pre > 0)
        w2, b2 = w2 - SGD_LR * hidden.T @ d_logits, b2 - SGD_LR * d_logits.sum(axis=0)
        w1, b1 = w1 - SGD_LR * flat.T @ d_hidden, b1 - SGD_LR * d_hidden.sum(axis=0)
    return losses


def sgd_trajectories(from_logits: bool) -> dict:
    """The first ``SGD_STEPS`` losses of tf_keras and of the NumPy loop, on one batch."""
    import tf_keras

    x, y, _, _ = digits()
    x, y = x[:SGD_BATCH], y[:SGD_BATCH]
    model = _model(tf_keras, tf_keras.optimizers.SGD(learning_rate=SGD_LR), from_logits)
    initial = [w.copy() for w in model.get_weights()]
    tf_losses = [float(model.train_on_batch(x, y)[0]) for _ in range(SGD_STEPS)]
    np_losses = numpy_sgd(initial, x, y, from_logits)
    rel = [abs(a - b) / max(abs(a), 1e-12) for a, b in zip(tf_losses, np_losses)]
    return {"from_logits": from_logits, "tf_keras": tf_losses, "numpy": np_losses, "max_relative_difference": max(rel)}


def measure() -> dict:
    started = time.perf_counter()
    fits = [fit_accuracy(True), fit_accuracy(False)]
    sgd = [sgd_trajectories(True), sgd_trajectories(False)]
    return {"fit": fits, "sgd": sgd, "seconds": time.perf_counter() - started}


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    json.dump(measure(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
