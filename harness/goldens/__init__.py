"""Goldens: TensorFlow's results recorded once (``record``), judged later without TensorFlow
(``verify --goldens``), and compared between TF releases (``drift``)."""
