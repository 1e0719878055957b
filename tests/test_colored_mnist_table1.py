"""benchmarks/colored_mnist_table1.py runs end to end on a tiny MNIST and resumes."""

import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_mnist_npz

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
@pytest.mark.usefixtures("brief_mi_audit")
@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")  # 30 digits
def test_table_runs_keeps_each_fit_and_resumes(tmp_path, monkeypatch, capsys):
    """The script as ``python benchmarks/colored_mnist_table1.py ...`` runs it, in this process.

    In-process, so that its fits' audits train their fresh critic briefly (``brief_mi_audits``):
    the audits were most of the cost, and this test checks the bookkeeping, not the figures.
    """
    import colored_mnist_table1

    source = write_mnist_npz(tmp_path / "digits.npz", 30, 20)
    out = tmp_path / "table"
    argv = [str(SCRIPT), "--source", str(source), "--out", str(out), "--seeds", "2"]
    argv += ["--variances", "0.02", "0.025", "--models", "ERM", "ERM, grey digits", "--jobs", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    colored_mnist_table1.main()
    runs = pd.read_csv(f"{out}_runs.csv")
    # ERM: 2 seeds at .020 and 1 at .025; the grey reference once per seed
    assert len(runs) == 5 and (runs["model"] == "ERM, grey digits").sum() == 2
    text = Path(f"{out}.txt").read_text()
    assert text.startswith("# command: ")
    erm = next(line for line in text.splitlines() if line.startswith("ERM (measured)"))
    assert "+-" in erm and "(1 seed)" in erm
    grey = next(line for line in text.splitlines() if line.startswith("ERM, grey digits (m"))
    assert grey.count("+-") == 2  # the same two fits under both variances
    capsys.readouterr()
    colored_mnist_table1.main()
    assert "5 fits kept" in capsys.readouterr().out
    assert len(pd.read_csv(f"{out}_runs.csv")) == 5
