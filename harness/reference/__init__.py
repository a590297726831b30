"""Pure-NumPy reference implementations of TensorFlow's losses.

Nothing under this package imports TensorFlow or Keras (``tests/test_reference_purity.py``
proves it). One module per API family: ``nn`` (tf.nn), ``losses_v1``
(tf.compat.v1.losses), ``keras`` (tf.keras.losses); shared pieces live in ``stable``
(numerically stable primitives) and ``reductions`` (every reduction, written once).
"""
