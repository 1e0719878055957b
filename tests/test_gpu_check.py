"""benchmarks/gpu_check.py, the prepared GPU script, runs end to end (on the CPU here)."""

import runpy
import sys
from pathlib import Path

import pytest
from conftest import brief_mi_audits

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")  # 1 epoch
def test_gpu_check_smoke_run_on_the_cpu(tmp_path, capsys, monkeypatch):
    """The script as ``python benchmarks/gpu_check.py --smoke`` runs it, in this process.

    Here it trains with the test process's one torch thread (conftest) and audits its models
    with brief fresh critics (``brief_mi_audits``): the audits are most of a smoke run's cost,
    and the run checks that the script works, not what it measures.
    """
    out = tmp_path / "gpu_check.txt"
    monkeypatch.syspath_prepend(str(SCRIPT.parent))  # as for a script: its folder comes first
    argv = [str(SCRIPT), "--smoke", "--device", "cpu", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with brief_mi_audits():
        runpy.run_path(str(SCRIPT), run_name="__main__")
    printed = capsys.readouterr().out
    header, text = out.read_text().split("\n\n", 1)
    assert header.startswith("# command: ")  # benchmarks/_provenance.py
    assert text == printed
    assert "host reads: a German fit (2 epochs" in text
    for model in ("ERM", "fairmine", "ERM, random colours", "ERM, grey digits"):
        assert sum(line.startswith(f"{model} (measured) ") for line in text.splitlines()) == 1
    assert "variance 0.020  variance 0.030" in text
    assert "skipped" not in text
