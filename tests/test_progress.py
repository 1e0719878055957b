"""Long commands show a bar with an ETA in a terminal and plain lines when piped; verbose fits
print skorch's epoch table with the training critic's MI."""

import io

import numpy as np
import pytest

from fairmine import MIUnbiasedClassifier
from fairmine.cli import _Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_piped_progress_is_the_plain_lines():
    stream = io.StringIO()
    progress = _Progress(total=2, stream=stream)
    for line in ("[1/2] ERM", "[2/2] fairmine", "run 1/10  ERM"):
        progress(line)
    assert stream.getvalue() == "[1/2] ERM\n[2/2] fairmine\nrun 1/10  ERM\n"


def test_terminal_progress_is_a_bar_with_an_eta_under_the_lines():
    stream = Terminal()
    progress = _Progress(stream=stream)
    progress("header, before any fit")
    for k in (1, 2, 3):
        progress(f"[{k}/4] setting {k}")
    text = stream.getvalue()
    assert "header, before any fit\n" in text
    assert "[2/4] setting 2\n" in text  # the lines scroll above the bar
    assert "3/4" in text and "<" in text  # tqdm's count and its remaining-time estimate
    assert progress.bar is not None  # still open: one fit to go
    progress("[4/4] setting 4")
    assert progress.bar is None and "4/4" in stream.getvalue()


def test_terminal_progress_counts_protocol_lines_against_a_total():
    stream = Terminal()
    progress = _Progress(total=3, stream=stream)
    progress("run 1/1  constant")
    progress("run 1/1  ERM")
    assert progress.bar.n == 2 and progress.bar.total == 3
    progress("run 1/1  fairmine")
    assert progress.bar is None and "3/3" in stream.getvalue()


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")
def test_verbose_fit_prints_the_epoch_table_with_train_mi(capsys):
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4).astype("float32")
    c = (X[:, 0] > 0).astype(int)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    MIUnbiasedClassifier(max_epochs=2, verbose=1, random_state=0).fit(X, y, sensitive_features=c)
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "epoch" in line)
    assert "train_mi" in header.split() and "train_loss" in header.split()
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"]
    column = header.split().index("train_mi")
    assert all(np.isfinite(float(row[column])) for row in rows)
