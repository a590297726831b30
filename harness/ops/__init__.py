"""Registry entries, one module per API family; each module exposes ``OPS``, a list of
:class:`harness.registry.OpSpec`."""
