"""`fairmine sweep` and the sweep functions behind it (issue 15)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairmine.cli import main
from fairmine.experiments import (
    SweepGrid,
    SweepInputError,
    load_sweep_table,
    run_sweep,
    summarise_sweep,
)
from fairmine.model_selection import pareto_front

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

QUICK = ["--weights", "2", "--seeds", "1", "--folds", "2", "--max-epochs", "2", "--n-jobs", "1"]


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
    status = main(["sweep", str(path), *arguments, "--out", str(tmp_path / "out"), *QUICK])
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
    expected = pareto_front(summary["accuracy"], summary["eodds"])
    np.testing.assert_array_equal(summary["front"], expected)


def test_grid_refuses_bad_settings():
    with pytest.raises(ValueError, match="criteria"):
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
