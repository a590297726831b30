"""Op records, one module per API family; each module exposes ``OPS``, a list of
:class:`harness.registry.OpSpec` (``common`` holds what the families share and no ops)."""
