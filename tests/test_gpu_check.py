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
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    header, text = out.read_text().split("\n\n", 1)
    assert header.startswith("# command: ")  # benchmarks/_provenance.py
    assert text == done.stdout
    assert "host reads: a German fit (2 epochs" in text
    for model in ("ERM", "fairmine", "ERM, random colours", "ERM, grey digits"):
        assert sum(line.startswith(f"{model} (measured) ") for line in text.splitlines()) == 1
    assert "variance 0.020  variance 0.030" in text
    assert "skipped" not in text
