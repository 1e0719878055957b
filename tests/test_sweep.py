"""`fairmine sweep` and the sweep functions behind it (issues 15, 30 and 38)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairmine.cli import main
from fairmine.exceptions import SmallGroupWarning
from fairmine.experiments import (
    SweepGrid,
    SweepInputError,
    degenerate_erm_note,
    load_sweep_table,
    run_sweep,
    summarise_sweep,
)
from fairmine.experiments import _sweep as sweep_module
from fairmine.experiments import _sweep_report as report_module
from fairmine.experiments._sweep_store import LOCK_FILE, SweepStore
from fairmine.model_selection import pareto_front

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

QUICK = ["--weights", "2", "--seeds", "1", "--folds", "2", "--max-epochs", "10", "--n-jobs", "1"]


def _write_table(path, n=240, seed=0):
    """A loan-like table: text, numbers with gaps, a group that shifts the label."""
    rng = np.random.RandomState(seed)
    group = rng.choice(["north", "south"], n)
    income = rng.normal(50, 10, n) + 8 * (group == "north")
    job = rng.choice(["clerk", "nurse", "driver"], n)
    label = np.where(income + rng.normal(0, 5, n) > 55, "repaid", "default")
    frame = pd.DataFrame(
        {"customer": np.arange(n), "income": income, "job": job, "region": group, "loan": label}
    )
    frame.loc[::17, "income"] = np.nan  # missing numbers are imputed
    frame.to_csv(path, index=False)
    return frame


def test_table_from_csv_has_the_columns_asked_for(tmp_path):
    frame = _write_table(tmp_path / "loans.csv")
    table = load_sweep_table(
        tmp_path / "loans.csv", target="loan", sensitive="region", drop=["customer"]
    )
    assert list(table.X.columns) == ["income", "job"]  # the attribute is not a feature
    # the positive class is the greater one ("repaid" > "default")
    np.testing.assert_array_equal(table.y, (frame["loan"] == "repaid").to_numpy(int))
    np.testing.assert_array_equal(table.groups, frame["region"].to_numpy())
    kept = load_sweep_table(
        tmp_path / "loans.csv",
        target="loan",
        sensitive="region",
        keep_sensitive=True,
        pos_label="default",
        rows=100,
    )
    assert list(kept.X.columns) == ["customer", "income", "job", "region"]
    assert len(kept.X) == 100
    sample = frame.sample(n=100, random_state=0).sort_index()
    np.testing.assert_array_equal(kept.y, (sample["loan"] == "default").to_numpy(int))


def test_bundled_german_uses_the_papers_attribute():
    table = load_sweep_table("german")
    assert table.X.shape == (1000, 20) and "age" in table.X  # age stays a feature
    assert (table.groups == "True").sum() == 149  # applicants younger than 25
    assert table.y.sum() == 700


@pytest.mark.usefixtures("brief_mi_audit")
def test_sweep_command_on_a_csv_writes_tables_and_figure(tmp_path, capsys):
    _write_table(tmp_path / "loans.csv")
    out = tmp_path / "out"
    status = main(
        ["sweep", str(tmp_path / "loans.csv"), "--target", "loan", "--sensitive", "region",
         "--drop", "customer", "--criteria", "equal_opportunity", "demographic_parity",
         "--out", str(out), *QUICK]
    )  # fmt: skip
    assert status == 0
    captured = capsys.readouterr()
    assert "[6/6] " in captured.err  # one progress line per fit
    summary = pd.read_csv(out / "sweep_summary.csv")
    assert summary["setting"].tolist() == [
        "ERM",
        "equal_opportunity w=2",
        "demographic_parity w=2",
    ]
    assert (summary["fits"] == 2).all()
    assert summary["front"].any()
    for column in ("accuracy", "eo", "eodds", "dp", "audit_mi"):
        assert summary[column].between(-1, 1).all()
    runs = pd.read_csv(out / "sweep_runs.csv")
    assert len(runs) == 6 and set(runs["fold"]) == {0, 1}
    markdown = (out / "sweep_summary.md").read_text()
    assert "| equal_opportunity w=2 |" in markdown and "region" in markdown
    assert "| ERM |" in captured.out  # the table goes to stdout
    assert (out / "sweep_fronts.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_command_reads_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    frame = _write_table(tmp_path / "loans.csv")
    frame.to_parquet(tmp_path / "loans.parquet")
    from_parquet = load_sweep_table(tmp_path / "loans.parquet", target="loan", sensitive="region")
    from_csv = load_sweep_table(tmp_path / "loans.csv", target="loan", sensitive="region")
    np.testing.assert_array_equal(from_parquet.y, from_csv.y)
    pd.testing.assert_frame_equal(from_parquet.X, from_csv.X)


@pytest.mark.usefixtures("brief_mi_audit")
def test_sweep_command_on_bundled_german(tmp_path):
    status = main(
        ["sweep", "german", "--rows", "300", "--criteria", "equal_opportunity",
         "--out", str(tmp_path), *QUICK]
    )  # fmt: skip
    assert status == 0
    assert len(pd.read_csv(tmp_path / "sweep_summary.csv")) == 2


@pytest.mark.parametrize(
    ("change", "arguments", "message"),
    [
        (None, ["--target", "loan", "--sensitive", "county"], "has no column 'county'"),
        (None, ["--target", "loan", "--sensitive", "region", "--drop", "x"], "no column 'x'"),
        ("one_class", ["--target", "loan", "--sensitive", "region"], "must hold two classes"),
        ("one_group", ["--target", "loan", "--sensitive", "region"], "single value"),
        (None, ["--target", "job", "--sensitive", "region"], "holds 3: clerk, driver, nurse"),
        (None, ["--target", "loan", "--sensitive", "customer"], "60 distinct values"),
        (None, ["--target", "loan", "--sensitive", "income"], "4 missing values"),
        (None, ["--target", "loan", "--sensitive", "loan"], "both 'loan'"),
        (None, ["--target", "loan"], "name --target and --sensitive"),
        ("binary", ["--target", "loan", "--sensitive", "region"], "cannot read"),
        ("empty", ["--target", "loan", "--sensitive", "region"], "cannot read"),
        ("missing", ["--target", "loan", "--sensitive", "region"], "No such file"),
        ("inf_cell", ["--target", "loan", "--sensitive", "region"], "'income' holds infinite"),
        ("huge_cell", ["--target", "loan", "--sensitive", "region"], "'income' holds values"),
        (None, ["--target", "loan", "--sensitive", "region", "--folds", "500"], "--folds 500"),
        (None, ["--target", "loan", "--sensitive", "region", "--folds", "1"], "2 folds"),
        (None, ["--target", "loan", "--sensitive", "region", "--weights", "-1"], "--weights"),
        (None, ["--target", "loan", "--sensitive", "region", "--weights", "inf"], "--weights"),
        (
            None,
            ["--target", "loan", "--sensitive", "region", "--metric", "eo", "--metric", "dp"],
            "one score and one disparity",
        ),
        (None, ["--target", "loan", "--sensitive", "region", "--pos-label", "yes"], "not a class"),
        (None, ["--target", "loan", "--sensitive", "region", "--scheduler", "x"], "--backend"),
    ],
)
def test_sweep_command_bad_input_is_a_message_and_exit_2(
    tmp_path, capsys, change, arguments, message
):
    path = tmp_path / "loans.csv"
    frame = _write_table(path, n=60)
    if change == "one_class":
        frame.assign(loan="repaid").to_csv(path, index=False)
    elif change == "one_group":
        frame.assign(region="north").to_csv(path, index=False)
    elif change == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 50)
    elif change == "empty":
        path.write_text("")
    elif change == "missing":
        path = tmp_path / "nowhere.csv"
    elif change in ("inf_cell", "huge_cell"):
        frame.loc[7, "income"] = np.inf if change == "inf_cell" else 1e300
        frame.to_csv(path, index=False)
    status = main(["sweep", str(path), *QUICK, *arguments, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("fairmine sweep: error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()


def test_sweep_results_do_not_depend_on_the_worker_count(tmp_path):
    _write_table(tmp_path / "loans.csv", n=160)
    table = load_sweep_table(tmp_path / "loans.csv", target="loan", sensitive="region")
    grid = SweepGrid(
        mi_weights=(2.0,), criteria=("equalized_odds",), seeds=(0, 1), folds=2,
        estimator_params={"max_epochs": 2},
    )  # fmt: skip
    one = run_sweep(table, grid, n_jobs=1, threads=1)
    two = run_sweep(table, grid, n_jobs=2, threads=1)  # loky worker processes
    pd.testing.assert_frame_equal(
        one.drop(columns="fit_seconds"), two.drop(columns="fit_seconds"), check_exact=True
    )
    assert one[["criterion", "seed", "fold"]].to_numpy().tolist() == [
        ["ERM", 0, 0], ["ERM", 0, 1], ["ERM", 1, 0], ["ERM", 1, 1],
        ["equalized_odds", 0, 0], ["equalized_odds", 0, 1],
        ["equalized_odds", 1, 0], ["equalized_odds", 1, 1],
    ]  # fmt: skip
    summary = summarise_sweep(one, metric="eodds")
    usable = (2 * summary["degenerate"] < summary["fits"]).to_numpy()
    expected = np.zeros(len(summary), dtype=bool)
    expected[usable] = pareto_front(summary["accuracy"][usable], summary["eodds"][usable])
    np.testing.assert_array_equal(summary["front"], expected)


def test_grid_refuses_bad_settings():
    with pytest.raises(SweepInputError, match="criteria"):
        SweepGrid(criteria=("fairness",))
    with pytest.raises(ValueError, match="positive"):
        SweepGrid(mi_weights=(0.0,))
    with pytest.raises(ValueError, match="2 folds"):
        SweepGrid(folds=1)
    assert issubclass(SweepInputError, ValueError)


# ------------------------------------------------------------------ the front
@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10)), min_size=1, max_size=12))
def test_pareto_front_is_exactly_the_undominated_points(points):
    accuracy, disparity = (np.array(values, dtype=float) for values in zip(*points, strict=True))
    front = pareto_front(accuracy, disparity)
    for i in range(len(points)):
        dominated = any(
            accuracy[j] >= accuracy[i]
            and disparity[j] <= disparity[i]
            and (accuracy[j] > accuracy[i] or disparity[j] < disparity[i])
            for j in range(len(points))
        )
        assert front[i] == (not dominated)
    assert front.any()  # the most accurate of the fairest points is always on it


def test_pareto_front_leaves_out_missing_values():
    np.testing.assert_array_equal(
        pareto_front([0.9, np.nan, 0.7], [0.2, 0.0, 0.1]), [True, False, True]
    )
    with pytest.raises(ValueError, match="1-D of one length"):
        pareto_front([0.9, 0.8], [0.1])


# ------------------------------------------ issue 30: a sweep loses and overwrites nothing
LOANS = ["--target", "loan", "--sensitive", "region", "--drop", "customer"]
ONE_CRITERION = ["--criteria", "equal_opportunity"]
#: where the models' quality does not matter: 4 fits of 2 epochs
BRIEF = [*QUICK, "--max-epochs", "2", *ONE_CRITERION]


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (["--n-jobs", "0"], "argument --n-jobs: must be a positive integer, got '0'"),
        (["--split-seed", "-1"], "argument --split-seed: must be 0 or a positive integer"),
        (["--metric", "f1"], "argument --metric: invalid choice: 'f1'"),
    ],
)
def test_bad_numbers_are_refused_by_the_parser_with_exit_2(tmp_path, capsys, argument, message):
    _write_table(tmp_path / "loans.csv", n=60)
    with pytest.raises(SystemExit) as stop:
        main(["sweep", str(tmp_path / "loans.csv"), *LOANS, *QUICK, *argument])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_out_that_is_a_file_is_refused_before_the_first_fit(tmp_path, capsys, monkeypatch):
    _write_table(tmp_path / "loans.csv", n=60)
    (tmp_path / "taken").write_text("not a folder")
    monkeypatch.setattr(sweep_module, "_fit_and_score", _no_fit)
    status = main(
        ["sweep", str(tmp_path / "loans.csv"), *LOANS, *QUICK, "--out", str(tmp_path / "taken")]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("fairmine sweep: error: --out") and "is a file" in err
    assert (tmp_path / "taken").read_text() == "not a folder"


def _no_fit(*args, **kwargs):
    raise AssertionError("a fit ran")


@pytest.mark.usefixtures("brief_mi_audit")
@pytest.mark.parametrize("earlier", ["sweep_summary.csv", "sweep_runs.csv", "sweep_fronts.png"])
def test_earlier_results_are_kept_unless_overwrite_is_given(tmp_path, capsys, monkeypatch, earlier):
    _write_table(tmp_path / "loans.csv", n=60)
    out = tmp_path / "out"
    out.mkdir()
    (out / earlier).write_text("an earlier sweep")
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF, "--out", str(out)]
    with monkeypatch.context() as patch:
        patch.setattr(sweep_module, "_fit_and_score", _no_fit)
        assert main(command) == 2
    err = capsys.readouterr().err
    assert f"already holds files that a sweep writes ({earlier})" in err and "--overwrite" in err
    assert (out / earlier).read_text() == "an earlier sweep"
    if earlier == "sweep_runs.csv":  # once is enough: --overwrite replaces them
        assert main([*command, "--overwrite"]) == 0
        assert len(pd.read_csv(out / "sweep_runs.csv")) == 4


def _comparable(out: Path) -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(out / name).drop(columns="fit_seconds")
        for name in ("sweep_runs.csv", "sweep_summary.csv")
    }


def _assert_same_results(one: Path, other: Path) -> None:
    for name, frame in _comparable(one).items():
        pd.testing.assert_frame_equal(frame, _comparable(other)[name], check_exact=True, obj=name)


@pytest.mark.usefixtures("brief_mi_audit")
def test_an_interrupted_sweep_resumes_without_redoing_a_fit(tmp_path, capsys, monkeypatch):
    _write_table(tmp_path / "loans.csv", n=80)
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF]
    assert main([*command, "--out", str(tmp_path / "whole")]) == 0
    fit_and_score, calls = sweep_module._fit_and_score, []

    def interrupted_at_the_third(*args, **kwargs):
        calls.append(args[3:7])  # criterion, mi_weight, seed, fold
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fit_and_score(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_fit_and_score", interrupted_at_the_third)
    out = tmp_path / "parts"
    assert main([*command, "--out", str(out)]) == 130
    assert "run the same command with --resume" in capsys.readouterr().err
    assert len(pd.read_csv(out / "sweep_runs.csv")) == 2  # the two finished fits are saved
    assert main([*command, "--out", str(out)]) == 2  # no silent overwrite of them either
    calls.clear()
    assert main([*command, "--out", str(out), "--resume"]) == 0
    assert "resuming: 2 of 4 fits" in capsys.readouterr().err
    assert len(calls) == 2 and len(set(calls)) == 2  # the other two fits only
    _assert_same_results(out, tmp_path / "whole")
    # a finished sweep resumed fits nothing and keeps its results
    calls.clear()
    assert main([*command, "--out", str(out), "--resume"]) == 0
    assert calls == []
    _assert_same_results(out, tmp_path / "whole")


def test_resume_refuses_the_results_of_another_sweep(tmp_path, capsys, monkeypatch):
    _write_table(tmp_path / "loans.csv", n=60)
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF]
    monkeypatch.setattr(sweep_module, "_fit_and_score", _interrupt)
    assert main([*command, "--out", str(tmp_path)]) == 130
    status = main([*command, "--weights", "5", "--out", str(tmp_path), "--resume"])
    assert status == 2
    assert "come from another sweep (it differs in mi_weights)" in capsys.readouterr().err


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.usefixtures("brief_mi_audit")
@pytest.mark.slow
def test_a_sweep_killed_by_sigint_resumes_to_the_uninterrupted_table(tmp_path):
    """Ctrl-C in a real process (sequential fits): the saved fits survive, --resume ends it.

    The process runs fairmine's command line under the brief audits of this test's own
    resumed and uninterrupted sweeps, so that their tables can agree.
    """
    _write_table(tmp_path / "loans.csv", n=120)
    slow = [*QUICK, "--max-epochs", "40"]
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *slow, *ONE_CRITERION]
    out = tmp_path / "killed"
    tests = Path(__file__).resolve().parent
    path = os.pathsep.join([str(tests.parent), str(tests)])  # fairmine, and this conftest
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    cli = (
        "import sys, conftest\n"
        "from fairmine.cli import main\n"
        "with conftest.brief_mi_audits():\n"
        "    sys.exit(main(sys.argv[1:]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", cli, *command, "--out", str(out)],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    runs = out / "sweep_runs.csv"
    deadline = time.monotonic() + 120
    while not (runs.exists() and len(runs.read_text().splitlines()) >= 2):  # header + a fit
        assert process.poll() is None and time.monotonic() < deadline, "no fit finished"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    saved = len(pd.read_csv(runs))
    assert 1 <= saved < 4
    assert main([*command, "--out", str(out), "--resume"]) == 0
    assert main([*command, "--out", str(tmp_path / "whole")]) == 0
    _assert_same_results(out, tmp_path / "whole")


# --------------------------------- issue 30: small groups, degenerate settings, the scores
@pytest.mark.usefixtures("brief_mi_audit")
def test_a_group_too_small_for_a_fold_gives_nan_and_a_warning(tmp_path, capsys):
    frame = _write_table(tmp_path / "loans.csv", n=80)
    frame.loc[5, "region"] = "island"  # one row: absent from one test fold, one class in the other
    frame.to_csv(tmp_path / "loans.csv", index=False)
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF]
    assert main([*command, "--out", str(tmp_path / "out")]) == 0
    runs = pd.read_csv(tmp_path / "out" / "sweep_runs.csv")
    assert runs["eodds"].isna().all() and runs["eo"].isna().any() and runs["dp"].isna().any()
    assert runs["accuracy"].notna().all()
    err = capsys.readouterr().err
    assert "fairmine sweep: warning: a group of the attribute had no test rows" in err
    assert "unmeasured of the 4 fits: EO 2, EOdds 4, DP 2;" in err and "fewer --folds" in err
    with pytest.warns(SmallGroupWarning, match="merge the smallest groups"):
        summary = summarise_sweep(runs)
    assert summary["eodds"].isna().all()
    assert "| n/a |" in (tmp_path / "out" / "sweep_summary.md").read_text()


def _runs(**columns):
    base = {
        "criterion": ["ERM", "ERM", "equal_opportunity", "equal_opportunity"],
        "mi_weight": [0.0, 0.0, 3.0, 3.0], "accuracy": 0.8, "balanced_accuracy": 0.7,
        "roc_auc": 0.75, "eo": 0.1, "eodds": 0.1, "dp": 0.1, "audit_mi": 0.0,
        "fit_seconds": 1.0, "degenerate": False,
    }  # fmt: skip
    return pd.DataFrame({**base, **columns})


def test_degenerate_settings_never_make_the_front():
    # the constant model: as accurate as ERM, perfectly "fair"; it would dominate ERM
    runs = _runs(accuracy=[0.8, 0.8, 0.84, 0.84], eo=[0.2, 0.2, 0.0, 0.0],
                 degenerate=[False, False, True, False])  # fmt: skip
    summary = summarise_sweep(runs)
    assert summary["front"].tolist() == [True, False]  # half its fits are degenerate
    assert degenerate_erm_note(summary, positive_rate=0.3) is None
    fine = summarise_sweep(runs.assign(degenerate=False))
    assert fine["front"].tolist() == [False, True]  # the test can fail


def test_a_degenerate_erm_is_named_with_what_to_try():
    summary = summarise_sweep(_runs(degenerate=True, accuracy=0.848))
    assert not summary["front"].any()
    note = degenerate_erm_note(summary, positive_rate=0.16)
    assert note.startswith("ERM itself is degenerate: 2 of its 2 fits do no better")
    assert "majority class holds 0.840" in note and "--class-weight balanced" in note


def test_metric_picks_the_score_and_the_disparity_of_the_front():
    runs = _runs(accuracy=[0.9, 0.9, 0.8, 0.8], roc_auc=[0.7, 0.7, 0.8, 0.8],
                 eo=[0.1, 0.1, 0.1, 0.1], dp=[0.1, 0.1, 0.2, 0.2])  # fmt: skip
    assert summarise_sweep(runs)["front"].tolist() == [True, False]
    assert summarise_sweep(runs, score="roc_auc")["front"].tolist() == [False, True]
    assert summarise_sweep(runs, "dp", score="roc_auc")["front"].tolist() == [True, True]
    with pytest.raises(ValueError, match="score must be one of"):
        summarise_sweep(runs, score="f1")


@pytest.mark.usefixtures("brief_mi_audit")
def test_an_imbalanced_table_where_erm_is_degenerate_says_so_first(tmp_path, capsys):
    rng = np.random.RandomState(0)
    n = 300
    x = rng.normal(size=n)
    rare = rng.rand(n) < 1 / (1 + np.exp(-(2.0 * x - 3.0)))  # about 16 % positive
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=n), "group": rng.choice(["a", "b"], n),
                          "reoffended": np.where(rare, "yes", "no")})  # fmt: skip
    frame.to_csv(tmp_path / "recidivism.csv", index=False)
    command = [
        "sweep", str(tmp_path / "recidivism.csv"), "--target", "reoffended", "--sensitive",
        "group", *QUICK, *ONE_CRITERION, "--metric", "balanced_accuracy",
    ]  # fmt: skip
    assert main([*command, "--max-epochs", "2", "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "fairmine sweep: warning: ERM itself is degenerate" in captured.err
    assert "front (balanced_accuracy, eo)" in captured.out
    markdown = (tmp_path / "out" / "sweep_summary.md").read_text()
    assert markdown.startswith("**Warning.** ERM itself is degenerate")
    summary = pd.read_csv(tmp_path / "out" / "sweep_summary.csv")
    assert not summary["front"].any() and summary["degenerate"].tolist() == [2, 2]
    assert summary[["balanced_accuracy", "roc_auc"]].notna().all().all()
    assert (tmp_path / "out" / "sweep_fronts.png").read_bytes()[:4] == b"\x89PNG"
    # what the note suggests: class weights, judged with the weights the fits used
    balanced = [*command, "--class-weight", "balanced", "--out", str(tmp_path / "balanced")]
    assert main(balanced) == 0
    assert "degenerate" not in capsys.readouterr().err
    summary = pd.read_csv(tmp_path / "balanced" / "sweep_summary.csv")
    assert summary["degenerate"].tolist() == [0, 0] and summary["front"].any()
    assert (summary["balanced_accuracy"] > 0.65).all()  # a constant model has 0.5


# ------------------------- issue 38: one writer per folder, rows whole, a full disk, dropped rows
def _fake_fit(table, train, test, criterion, mi_weight, seed, fold, params, threads):
    """A fit's row in no time: figures that depend on the task alone (the real ones train)."""
    rank = 0.01 * (seed + 2 * fold) + 0.001 * mi_weight
    figures = dict.fromkeys(("accuracy", "balanced_accuracy", "roc_auc"), 0.7 + rank)
    figures.update(dict.fromkeys(("eo", "eodds", "dp", "train_mi", "audit_mi"), 0.1 - rank))
    rates = {"selection rate": 0.5 + rank, "TPR": 0.8, "FPR": 0.2, "count": 10.0}
    groups = json.dumps({"north": rates, "south": rates})
    return {"criterion": criterion, "mi_weight": mi_weight, "seed": seed, "fold": fold,
            **figures, "fit_seconds": 0.5, "group_metrics": groups,
            "degenerate": False}  # fmt: skip


@pytest.fixture
def fake_fits(monkeypatch):
    """Sweeps whose fits take no time: for what the folder, the rows and the report do."""
    monkeypatch.setattr(sweep_module, "_fit_and_score", _fake_fit)


@pytest.fixture
def no_report_figures(monkeypatch):
    """Reports without their two figures, which take most of a fake sweep's time."""
    monkeypatch.setattr(report_module, "_figures", lambda *args: ("<p>fronts</p>", "<p>rates</p>"))


def test_a_report_of_your_own_in_out_is_never_replaced(tmp_path, capsys, monkeypatch):
    _write_table(tmp_path / "loans.csv", n=60)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("<p>my own report</p>")
    monkeypatch.setattr(sweep_module, "_fit_and_score", _no_fit)
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF, "--out", str(out)]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "already holds files that a sweep writes (report.html)" in err and "--overwrite" in err
    assert (out / "report.html").read_text() == "<p>my own report</p>"
    # files a sweep does not write are no obstacle, and stay
    (out / "report.html").unlink()
    (out / "notes.txt").write_text("mine")
    SweepStore(out, {"data": "x"}).close()
    assert (out / "notes.txt").read_text() == "mine" and not (out / LOCK_FILE).exists()


@pytest.mark.parametrize(
    "second", [[], ["--resume"], ["--overwrite"]], ids=["plain", "resume", "overwrite"]
)
def test_a_second_sweep_on_the_same_out_is_refused(tmp_path, capsys, monkeypatch, second):
    _write_table(tmp_path / "loans.csv", n=60)
    out = tmp_path / "out"
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF, "--out", str(out)]
    statuses = []

    def second_sweep_meanwhile(*args, **kwargs):
        if statuses:  # the first sweep, or the second one's fits if it got through
            raise KeyboardInterrupt
        statuses.append(None)
        statuses[0] = main([*command, *second])  # started while the first one is fitting
        return _fake_fit(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_fit_and_score", second_sweep_meanwhile)
    assert main(command) == 130  # the first, interrupted at its second fit
    err = capsys.readouterr().err
    assert statuses == [2]
    assert "is being written by another fairmine sweep (process" in err
    assert len(pd.read_csv(out / "sweep_runs.csv")) == 1  # the first one's row, once
    assert not (out / LOCK_FILE).exists()  # released by the first when it ended


def test_a_lock_file_left_by_a_killed_sweep_stops_no_one(tmp_path):
    (tmp_path / LOCK_FILE).write_text("process 1 on elsewhere, since yesterday")
    store = SweepStore(tmp_path, {"data": "x"})  # the OS lock died with its process
    assert (tmp_path / LOCK_FILE).read_text().startswith(f"process {os.getpid()} on ")
    store.close()
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_torn_last_row_is_dropped_and_its_fit_made_again(
    tmp_path, capsys, monkeypatch, fake_fits, no_report_figures
):
    _write_table(tmp_path / "loans.csv", n=60)
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF]
    assert main([*command, "--out", str(tmp_path / "whole")]) == 0
    torn = tmp_path / "torn"
    torn.mkdir()
    shutil.copy(tmp_path / "whole" / "sweep_config.json", torn)
    lines = (tmp_path / "whole" / "sweep_runs.csv").read_text().splitlines(keepends=True)
    cut = lines[3][: lines[3].index(".") + 2]  # the third fit's row, cut inside a number
    (torn / "sweep_runs.csv").write_text("".join(lines[:3]) + cut)
    fits = []
    monkeypatch.setattr(
        sweep_module, "_fit_and_score", lambda *args: fits.append(args[3:7]) or _fake_fit(*args)
    )
    assert main([*command, "--out", str(torn), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "the last row of" in err and "was cut off" in err and "resuming: 2 of 4 fits" in err
    assert len(fits) == 2  # the torn fit and the one never started
    _assert_same_results(torn, tmp_path / "whole")


def test_a_row_that_cannot_be_written_whole_is_not_written_at_all(tmp_path):
    resource = pytest.importorskip("resource")
    store = SweepStore(tmp_path, {"data": "x"})
    store.add(_fake_fit(None, None, None, "ERM", 0.0, 0, 0, {}, None))
    before = store.runs_path.read_bytes()
    with _file_size_limit(len(before) + 20, resource):  # the disk fills inside the next row
        with pytest.raises(OSError, match=r"cannot write .*sweep_runs\.csv: File too large"):
            store.add(_fake_fit(None, None, None, "ERM", 0.0, 0, 1, {}, None))
    store.close()
    assert store.runs_path.read_bytes() == before  # whole rows only


class _file_size_limit:
    """Files of this process cannot grow beyond ``limit`` bytes, as on a disk that is full."""

    def __init__(self, limit, resource):
        self.limit, self.resource = limit, resource

    def __enter__(self):
        self.handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a kill
        self.old = self.resource.getrlimit(self.resource.RLIMIT_FSIZE)
        self.resource.setrlimit(self.resource.RLIMIT_FSIZE, (self.limit, self.old[1]))

    def __exit__(self, *exc):
        self.resource.setrlimit(self.resource.RLIMIT_FSIZE, self.old)
        signal.signal(signal.SIGXFSZ, self.handler)


def test_a_full_disk_is_one_line_and_loses_nothing_written_before(tmp_path, capsys, fake_fits):
    resource = pytest.importorskip("resource")
    _write_table(tmp_path / "loans.csv", n=60)
    out = tmp_path / "out"
    command = ["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF, "--out", str(out)]
    assert main(command) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    report, figure = len(before["report.html"]), len(before["sweep_fronts.png"])
    assert report > figure + 1000
    capsys.readouterr()
    with _file_size_limit((report + figure) // 2, resource):  # the report does not fit
        status = main([*command, "--resume"])
    assert status == 1
    err = capsys.readouterr().err
    error = [line for line in err.splitlines() if "error" in line]
    assert len(error) == 1 and "Traceback" not in err
    assert error[0].startswith("fairmine sweep: error: cannot write ") and "report.html" in error[0]
    assert "--resume" in error[0]
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_rows_without_a_target_are_counted_on_the_terminal_and_in_the_report(
    tmp_path, capsys, fake_fits, no_report_figures
):
    frame = _write_table(tmp_path / "loans.csv", n=60)
    frame.loc[[4, 9, 30], "loan"] = np.nan
    frame.to_csv(tmp_path / "loans.csv", index=False)
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "loans.csv"), *LOANS, *BRIEF, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    said = "3 of the 60 rows of " + str(tmp_path / "loans.csv")
    assert f"fairmine sweep: warning: {said} have no value in the target column 'loan'" in err
    assert "were dropped (the first is data row 5)" in err
    assert "57 rows (3 more without a target value, dropped)" in err
    report = (out / "report.html").read_text()
    assert f"<strong>Warning.</strong> {said}" in report
    assert "3 more without a target value, dropped" in (out / "sweep_summary.md").read_text()


def test_a_regression_target_too_large_to_square_is_refused(tmp_path):
    frame = _write_table(tmp_path / "loans.csv", n=60)
    frame["amount"] = np.linspace(1, 2, len(frame)) * 1e200  # its MSE would overflow to inf
    frame.to_csv(tmp_path / "loans.csv", index=False)
    with pytest.raises(SweepInputError, match=r"'amount' holds values beyond 1e\+150.*rescale"):
        load_sweep_table(tmp_path / "loans.csv", target="amount", sensitive="region")
