"""Pure-NumPy reference implementations of TensorFlow's losses.

Nothing under this package imports TensorFlow or Keras, nor anything of the harness outside
it (``tests/test_reference_purity.py`` proves it). One module per API family: ``nn``
(tf.nn), ``losses_v1`` (tf.compat.v1.losses), ``keras`` (tf.keras.losses), ``ctc`` (both
CTCs), ``training_step`` (document 000's composite training step); their analytic
gradients in ``vjp`` (and ``ctc``). Shared pieces: ``stable`` (numerically stable
primitives), ``summation`` (``tf.reduce_sum``'s order and precision), ``rowblocks`` (the
softmax family a block of rows at a time), ``reductions`` (the losses' reductions),
``dtypes`` (which dtype TF computes in), ``errors`` (errors named after TF's classes).
"""
