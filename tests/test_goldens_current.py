"""The committed goldens are current: re-recording the default suite with the installed TF
gives the same results (``make check-goldens``; it costs one TF run of the suite)."""
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_committed_goldens_match_a_fresh_recording():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "harness.goldens.check", "cases/", "--goldens", "goldens"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"stale goldens (re-record them: make goldens):\n{run.stderr[-6000:]}"
    assert "is current" in run.stdout
