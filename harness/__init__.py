"""tf-parity: checks a NumPy reference of TensorFlow's losses against real TensorFlow."""

__version__ = "0.1.0"
