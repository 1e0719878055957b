"""benchmarks/gpu_check.py, the prepared GPU script, runs end to end (on the CPU here)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.slow
def test_gpu_check_smoke_run_on_the_cpu(tmp_path):
    out = tmp_path / "gpu_check.txt"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--device", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    header, text = out.read_text().split("\n\n", 1)
    assert header.startswith("# command: ")  # benchmarks/_provenance.py
    assert text == done.stdout
    assert "host reads: a German fit (2 epochs" in text
    for mode in ("ERM", "default K=10", "faithful K=40"):
        assert sum(line.startswith(mode) for line in text.splitlines()) == 2  # both variances
    assert "skipped" not in text
