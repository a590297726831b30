"""harness.protocol.usable: the lean per-item protocol only where nothing else would notice."""
from types import SimpleNamespace

from harness import protocol


class _Config:
    def __init__(self, **options):
        self.options = options

    def getoption(self, name, default=None):
        return self.options.get(name, default)


def _relay(names=None):
    """A hook relay whose phase hooks have the implementations ``names`` (default: the expected ones)."""
    hooks = {hook: SimpleNamespace(get_hookimpls=lambda n=(names or expected): [SimpleNamespace(plugin_name=p)
                                                                               for p in n])
             for hook, expected in protocol.EXPECTED.items()}
    return SimpleNamespace(**hooks)


def test_usable_follows_each_runs_options_and_hooks():
    """The answer is kept per run (config) and hook relay, and read again for another run: a
    run with --pdb (or --trace, --setup-show ...) or another plugin's phase hook gets pytest's own."""
    relay = _relay()
    plain, pdb = _Config(), _Config(usepdb=True)
    assert protocol.usable(SimpleNamespace(config=plain, ihook=relay))
    assert not protocol.usable(SimpleNamespace(config=pdb, ihook=relay))
    assert protocol.usable(SimpleNamespace(config=plain, ihook=relay), relay)
    assert not protocol.usable(SimpleNamespace(config=_Config(setupshow=True), ihook=relay))
    other = _relay(["runner", "skipping", "capturemanager", "myconftest"])
    assert not protocol.usable(SimpleNamespace(config=plain, ihook=other))
