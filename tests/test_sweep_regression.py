"""`fairmine sweep` on a numeric target: MIUnbiasedRegressor, R² and the regression disparities."""

import html5lib
import numpy as np
import pandas as pd
import pytest

from fairmine import MIUnbiasedRegressor, estimate_mi
from fairmine.cli import main
from fairmine.datasets import load_communities
from fairmine.experiments import SweepInputError, degenerate_erm_note, load_sweep_table
from fairmine.experiments._sweep import TASKS, markdown_table, summarise_sweep
from fairmine.metrics import make_mi_scorer

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

TARGET, GROUP = "ViolentCrimesPerPop", "black_share_above_median"
QUICK = ["--weights", "1", "--seeds", "1", "--folds", "2", "--max-epochs", "3", "--n-jobs", "1"]
NS = {"h": "http://www.w3.org/1999/xhtml"}
REGRESSION_FIGURES = ["r2", "mse", "mean_prediction_gap", "prediction_ks_distance",
                      "group_mae_gap", "worst_group_mae", "audit_mi"]  # fmt: skip


@pytest.fixture(scope="module")
def communities_csv(tmp_path_factory):
    """300 rows of Communities and Crime, the binary attribute as a column."""
    data = load_communities()
    frame = data.frame.copy()  # one block: adding a column to the loader's frame warns
    frame[GROUP] = data.sensitive_features.to_numpy()
    path = tmp_path_factory.mktemp("communities") / "communities.csv"
    frame.sample(n=300, random_state=0).to_csv(path, index=False)
    return path


@pytest.mark.usefixtures("brief_mi_audit")
@pytest.mark.slow
def test_sweep_detects_a_numeric_target_and_writes_regression_figures(
    communities_csv, tmp_path, capsys
):
    out = tmp_path / "out"
    status = main(
        ["sweep", str(communities_csv), "--target", TARGET, "--sensitive", GROUP,
         "--out", str(out), *QUICK]
    )  # fmt: skip
    assert status == 0
    captured = capsys.readouterr()
    assert "regression" in captured.err and "MIUnbiasedRegressor" in captured.err
    assert "equal_opportunity skipped" in captured.err  # it needs a positive class
    summary = pd.read_csv(out / "sweep_summary.csv")
    assert summary["setting"].tolist() == ["ERM", "demographic_parity w=1", "equalized_odds w=1"]
    for column in REGRESSION_FIGURES:
        assert column in summary and f"{column}_std" in summary
    assert "accuracy" not in summary and "eo" not in summary
    assert np.isfinite(summary[REGRESSION_FIGURES].to_numpy()).all()
    assert (summary["r2"] <= 1).all() and (summary["mse"] > 0).all()
    assert summary["front"].any() and (summary["fits"] == 2).all()
    markdown = (out / "sweep_summary.md").read_text(encoding="utf-8")
    assert "| R² | MSE | mean gap |" in markdown and "front (r2, mean_prediction_gap)" in markdown
    assert "| ERM |" in captured.out
    assert (out / "sweep_fronts.png").read_bytes()[:4] == b"\x89PNG"
    document = html5lib.parse((out / "report.html").read_text(encoding="utf-8"))
    groups = next(s for s in document.findall(".//h:section", NS) if s.get("id") == "groups")
    headings = ["".join(c.itertext()).strip() for c in groups.findall(".//h:table//h:th", NS)]
    assert {GROUP, "mean prediction", "MAE", "test rows per fit"} <= set(headings)
    # a resumed regression sweep finds every fit saved (the float target is in the fingerprint)
    again = ["sweep", str(communities_csv), "--target", TARGET, "--sensitive", GROUP,
             "--out", str(out), "--resume", *QUICK]  # fmt: skip
    assert main(again) == 0
    assert "resuming: 6 of 6 fits" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(out / "sweep_summary.csv"), summary)


def test_detection_rule_takes_many_numbers_for_regression(tmp_path):
    rng = np.random.RandomState(0)
    n = 120
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "group": rng.choice(["a", "b"], n),
            "many": rng.randint(0, 21, n),  # 21 distinct integers: regression
            "few": rng.randint(0, 2, n).astype(float),  # 0.0 / 1.0: two classes
        }
    )
    assert frame["many"].nunique() == 21
    frame.to_csv(tmp_path / "t.csv", index=False)
    many = load_sweep_table(tmp_path / "t.csv", target="many", sensitive="group", drop=["few"])
    assert many.task == "regression" and many.y.dtype == np.float64
    np.testing.assert_array_equal(many.y, frame["many"].to_numpy(float))
    few = load_sweep_table(tmp_path / "t.csv", target="few", sensitive="group", drop=["many"])
    assert few.task == "classification" and set(few.y) == {0, 1}
    forced = load_sweep_table(
        tmp_path / "t.csv", target="few", sensitive="group", drop=["many"], task="regression"
    )
    assert forced.task == "regression"
    with pytest.raises(SweepInputError, match=r"holds 21: .*use --task regression"):
        load_sweep_table(
            tmp_path / "t.csv", target="many", sensitive="group", task="classification"
        )
    with pytest.raises(SweepInputError, match="needs a numeric target, but 'group'"):
        load_sweep_table(tmp_path / "t.csv", target="group", sensitive="few", task="regression")


def test_bundled_communities_is_a_regression_table():
    table = load_sweep_table("communities", rows=50)
    assert table.task == "regression" and table.X.shape == (50, 100)
    assert set(table.groups) == {"0", "1"} and "racepctblack" in table.X  # as in the benchmark


def test_task_classification_on_a_numeric_target_is_refused(communities_csv, capsys):
    status = main(
        ["sweep", str(communities_csv), "--target", TARGET, "--sensitive", GROUP,
         "--task", "classification", "--out", "unused", *QUICK]
    )  # fmt: skip
    assert status == 2
    error = capsys.readouterr().err
    assert "must hold two classes" in error and "use --task regression" in error


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "eo"], "--metric eo does not measure a regression sweep"),
        (["--criteria", "equal_opportunity"], "MIUnbiasedRegressor takes none of them"),
        (["--class-weight", "balanced"], "a numeric target has none"),
        (["--pos-label", "1"], "a numeric target has none"),
    ],
)
def test_classification_options_are_refused_for_regression(
    communities_csv, tmp_path, capsys, extra, message
):
    status = main(
        ["sweep", str(communities_csv), "--target", TARGET, "--sensitive", GROUP,
         "--out", str(tmp_path), *QUICK, *extra]
    )  # fmt: skip
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sweep_runs.csv").exists()


def _runs(r2, degenerate, gap):
    """Two regression settings, two fits each."""
    figures = dict.fromkeys(REGRESSION_FIGURES, 0.1)
    return pd.DataFrame(
        [
            {**figures, "criterion": criterion, "mi_weight": weight, "r2": r, "fit_seconds": 1.0,
             "degenerate": d, "mean_prediction_gap": g}
            for (criterion, weight), r, d, g in zip(
                [("ERM", 0.0)] * 2 + [("demographic_parity", 3.0)] * 2, r2, degenerate, gap,
                strict=True,
            )
        ]
    )  # fmt: skip


def test_regression_front_leaves_out_fits_no_better_than_the_mean():
    runs = _runs([0.6, 0.6, 0.2, 0.2], [False] * 4, [0.2, 0.2, 0.05, 0.05])
    summary = summarise_sweep(runs)  # the task's defaults: r2 and mean_prediction_gap
    assert summary["front"].tolist() == [True, True]
    assert degenerate_erm_note(summary, 0.5) is None
    # the fairer setting is degenerate on both fits: it leaves the front
    summary = summarise_sweep(runs.assign(degenerate=[False, False, True, True]))
    assert summary["front"].tolist() == [True, False]
    erm_degenerate = summarise_sweep(runs.assign(degenerate=[True, True, False, False]))
    note = degenerate_erm_note(erm_degenerate, 0.5)
    assert note is not None and "predicting the training mean" in note
    with pytest.raises(ValueError, match="metric must be one of"):
        summarise_sweep(runs, metric="eo")
    table = markdown_table(summary, "mean_prediction_gap", "r2")
    assert table.splitlines()[0].startswith("| setting | R² | MSE |")


def test_regression_degenerate_rule_is_training_r2_at_most_zero():
    rule = TASKS["regression"].degenerate
    y = np.arange(10.0)

    class Constant:
        def __init__(self, value):
            self.value = value

        def predict(self, X):
            return np.full(len(X), self.value)

    assert rule(Constant(y.mean()), y[:, None], y, {})  # the mean itself: R² 0
    assert not rule(
        MIUnbiasedRegressor(max_epochs=30, lr=1e-2, random_state=0).fit(
            y[:, None], y, sensitive_features=y > 4
        ),
        y[:, None],
        y,
        {},
    )


def test_audit_mi_of_a_regressor_under_equalized_odds():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    c = rng.randint(0, 2, 300)
    y = X[:, 0] + c  # c leaks into y, so z carries it unless y's bins are given
    model = MIUnbiasedRegressor(criterion="equalized_odds", max_epochs=3, random_state=0)
    model.fit(X, y, sensitive_features=c)
    mi = -make_mi_scorer(random_state=0)(model, X, y, sensitive_features=c)
    # the scorer conditions on the bins of the standardised target the critic trained on
    bins = np.searchsorted(model.target_bin_edges_, (y - model.target_mean_) / model.target_scale_)
    assert len(np.unique(bins)) == 4
    expected = estimate_mi(model.transform(X), c, given=bins, random_state=0)
    assert mi == pytest.approx(expected)
