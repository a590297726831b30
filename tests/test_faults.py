"""A TF abort, a hang and Ctrl-C: reported with the case id, and the run goes on."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import ROOT
from tests.support.signals import ctrl_c_deliverable

FAULTS = """\
cases:
  - id: ok-before
    op: tf.nn.softmax
    args: {logits: [[1.0, 2.0]]}
  - id: aborts
    op: harness.testing.abort
    args: {x: [1.0]}
  - id: hangs
    op: harness.testing.hang
    args: {x: [1.0]}
  - id: ok-after
    op: tf.nn.softmax
    args: {logits: [[3.0, 2.0]]}
"""


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_PARITY_EXTRA_OPS": "tests.support.faulty_ops"}


def test_abort_and_hang_are_reported_and_the_run_goes_on(write_case, tmp_path):
    path = write_case("faults.yaml", FAULTS)
    out = subprocess.run([sys.executable, "-m", "harness", "verify", str(path), "--report-dir", str(tmp_path / "rep"),
                          "--timeout", "5", "-n", "2"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    statuses = {c["id"]: c["status"] for c in json.loads((tmp_path / "rep" / "results.json").read_text())["cases"]}
    assert statuses == {"ok-before[float32]": "passed", "aborts[float32]": "crashed",
                        "hangs[float32]": "timeout", "ok-after[float32]": "passed"}
    assert f"{path}:5: aborts[float32] crashed its worker process" in out.stdout
    assert f"{path}:8: hangs[float32] ran past the 5 s timeout" in out.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_ctrl_c_writes_what_finished_marked_interrupted(write_case, tmp_path):
    path = write_case("faults.yaml", FAULTS.replace("  - id: aborts\n    op: harness.testing.abort\n    args: {x: [1.0]}\n", ""))
    report = tmp_path / "rep" / "results.json"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "verify", str(path), "--report-dir", str(tmp_path / "rep"),
                             "--timeout", "0", "-n", "0"], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=ctrl_c_deliverable)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: proc.stdout.read(1), "")), daemon=True)
    reader.start()
    deadline = time.time() + 120
    while "." not in seen and time.time() < deadline and proc.poll() is None:  # the first case has passed
        time.sleep(0.2)
    time.sleep(1)  # now inside the hanging case
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    data = json.loads(report.read_text())
    assert data["run"]["interrupted"] is True, "".join(seen)
    assert [c["id"] for c in data["cases"]] == ["ok-before[float32]"]
