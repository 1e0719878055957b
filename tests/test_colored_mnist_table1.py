"""benchmarks/colored_mnist_table1.py runs end to end on a tiny MNIST and resumes."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "colored_mnist_table1.py"

sys.path.insert(0, str(SCRIPT.parent))
from colored_mnist_table1 import planned_fits  # noqa: E402


def test_planned_fits_fit_references_once_per_seed():
    fits = planned_fits(["ERM", "ERM, grey digits"], [0.03, 0.02, 0.04], seeds=2, other_seeds=1)
    assert fits == [
        ("ERM", 0.03, 0), ("ERM", 0.03, 1), ("ERM", 0.02, 0), ("ERM", 0.02, 1), ("ERM", 0.04, 0),
        ("ERM, grey digits", 0.02, 0), ("ERM, grey digits", 0.02, 1),
    ]  # fmt: skip


@pytest.mark.slow
def test_table_runs_keeps_each_fit_and_resumes(tmp_path):
    rng = np.random.RandomState(0)
    source = tmp_path / "digits.npz"
    np.savez(
        source,
        x_train=rng.randint(0, 256, size=(30, 28, 28)).astype(np.uint8),
        y_train=np.arange(30) % 10,
        x_test=rng.randint(0, 256, size=(20, 28, 28)).astype(np.uint8),
        y_test=np.arange(20) % 10,
    )
    out = tmp_path / "table"
    argv = [sys.executable, str(SCRIPT), "--source", str(source), "--out", str(out)]
    argv += ["--variances", "0.02", "0.025", "--models", "ERM", "ERM, grey digits", "--jobs", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = pd.read_csv(f"{out}_runs.csv")
    # ERM: 3 seeds at .020 and 1 at .025; the grey reference once per seed
    assert len(runs) == 7 and (runs["model"] == "ERM, grey digits").sum() == 3
    text = Path(f"{out}.txt").read_text()
    assert text.startswith("# command: ")
    erm = next(line for line in text.splitlines() if line.startswith("ERM (measured)"))
    assert "+-" in erm and "(1 seed)" in erm
    grey = next(line for line in text.splitlines() if line.startswith("ERM, grey digits (m"))
    assert grey.count("+-") == 2  # the same three fits under both variances
    again = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "7 fits kept" in again.stdout and "0 to run" in again.stdout
    assert len(pd.read_csv(f"{out}_runs.csv")) == 7
