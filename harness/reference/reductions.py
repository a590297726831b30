"""Every reduction, written once.

Section 1: ``tf.compat.v1.losses`` reductions (``compute_weighted_loss``).
Section 2: Keras 3 reductions (``keras.losses.Loss.__call__``).
"""
from __future__ import annotations

import numpy as np

# --- Section 1: tf.compat.v1.losses -------------------------------------------------


# --- Section 2: Keras 3 -------------------------------------------------------------
