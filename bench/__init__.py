"""Performance suite: ``make bench`` (pytest-benchmark over every op, timing report, figures)."""
