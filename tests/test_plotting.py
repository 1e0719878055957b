import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import sklearn
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.dataset import ValidSplit

from fairmine import MIUnbiasedClassifier
from fairmine.metrics import equal_opportunity_scorer, make_mi_scorer
from fairmine.mi import DonskerVaradhan, MIAudit
from fairmine.model_selection import MISelectionRule
from fairmine.plotting import plot_group_metrics, plot_history, plot_tradeoff

# these tests check plumbing with fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

TINY = {
    "max_epochs": 2,
    "penalty": DonskerVaradhan(steps=1, warmup_steps=10),
    "random_state": 0,
    "callbacks": [MIAudit(every=1, max_steps=100)],
}


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def show(*args, **kwargs):
        raise AssertionError("plotting functions must not call plt.show()")

    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data(biased_data):
    return biased_data


@pytest.fixture(scope="module")
def fitted(data):
    X, y, group = data
    return [
        MIUnbiasedClassifier(mi_weight=weight, **TINY).fit(X, y, sensitive_features=group)
        for weight in (0.0, 3.0)
    ]


def _line_labels(ax):
    return [line.get_label() for line in ax.get_lines()]


# ------------------------------------------------------------------ history
def test_history_draws_task_loss_and_mi_one_line_per_model(fitted):
    axes = plot_history(*fitted, labels=["ERM", "fairmine"])
    assert len(axes) == 2 and all(isinstance(ax, Axes) for ax in axes)
    assert [ax.get_ylabel() for ax in axes] == ["task loss (cross-entropy)", "MI estimate (nats)"]
    for ax in axes:
        assert ax.get_xlabel() == "epoch"
    assert _line_labels(axes[0]) == ["ERM", "fairmine"]
    for line, model in zip(axes[0].get_lines(), fitted, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        np.testing.assert_allclose(line.get_ydata(), model.history_[:, "train_task_loss"])
    # ERM trains no critic: only the audit; fairmine shows its critic beside the audit
    assert _line_labels(axes[1]) == ["ERM", "fairmine (train)", "fairmine (audit)"]
    erm_audit, fair_train, fair_audit = axes[1].get_lines()
    np.testing.assert_allclose(fair_train.get_ydata(), fitted[1].history_[:, "train_mi"])
    for line, model in ((erm_audit, fitted[0]), (fair_audit, fitted[1])):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        np.testing.assert_allclose(line.get_ydata(), model.history_[:, "audit_mi"])
        assert line.get_linestyle() == ":"
    _, bars_fair = axes[1].collections  # the audits' standard errors
    low = np.array([seg[0][1] for seg in bars_fair.get_segments()])
    expected = fitted[1].history_[:, "audit_mi"] - np.array(fitted[1].history_[:, "audit_mi_std"])
    np.testing.assert_allclose(low, expected, rtol=1e-6)


def test_history_default_labels_name_the_mi_weight(fitted):
    axes = plot_history(*fitted)
    assert _line_labels(axes[0]) == ["ERM (mi_weight=0)", "mi_weight=3"]


def test_history_adds_dashed_validation_lines(data, fitted):
    X, y, group = data
    split = MIUnbiasedClassifier(mi_weight=1.0, train_split=ValidSplit(0.25), **TINY)
    split.fit(X, y, sensitive_features=group)
    axes = plot_history(fitted[0], split, labels=["ERM", "split"], metrics=("mi", "acc"))
    assert _line_labels(axes[0]) == ["ERM", "split (train)", "split (valid)", "split (audit)"]
    assert [line.get_linestyle() for line in axes[0].get_lines()] == [":", "-", "--", ":"]
    # only the model with a validation split recorded an accuracy
    assert _line_labels(axes[1]) == ["split"]
    assert axes[1].get_ylabel() == "accuracy"


def test_history_takes_histories_pipelines_and_plain_columns(data, fitted):
    X, y, group = data
    pipe = make_pipeline(StandardScaler(), MIUnbiasedClassifier(mi_weight=1.0, **TINY))
    pipe.fit(X, y, miunbiasedclassifier__sensitive_features=group)
    axes = plot_history(fitted[0].history_, pipe, metrics=("dur",))
    assert len(axes) == 1
    assert _line_labels(axes[0]) == ["model 1", "mi_weight=1"]
    assert axes[0].get_ylabel() == "dur"
    (single,) = plot_history(fitted[1], metrics="mi")
    assert single.get_ylabel() == "MI estimate (nats)"


def test_history_draws_on_given_axes(fitted):
    _, given = plt.subplots(1, 2)
    axes = plot_history(*fitted, ax=given)
    assert list(axes) == list(given)
    with pytest.raises(ValueError, match="one Axes per metric"):
        plot_history(*fitted, ax=given[0])


def test_history_errors(fitted):
    with pytest.raises(KeyError, match="no model recorded 'nope'"):
        plot_history(*fitted, metrics=("nope",))
    with pytest.raises(ValueError, match="2 labels for 1 models"):
        plot_history(fitted[0], labels=["a", "b"])
    with pytest.raises(TypeError, match="fitted MIUnbiasedClassifier"):
        plot_history(MIUnbiasedClassifier())
    with pytest.raises(TypeError, match="at least one"):
        plot_history()


# ---------------------------------------------------------------- trade-off
@pytest.fixture(scope="module")
def search(data):
    X, y, group = data
    with sklearn.config_context(enable_metadata_routing=True):
        return GridSearchCV(
            MIUnbiasedClassifier(**TINY),
            {"mi_weight": [0.0, 1.0, 3.0]},
            scoring={
                "accuracy": "accuracy",
                "eo": equal_opportunity_scorer,
                "mi": make_mi_scorer(max_steps=50, eval_every=25, random_state=0),
            },
            refit=MISelectionRule(),
            return_train_score=True,
            cv=2,
        ).fit(X, y, sensitive_features=group)


def _points(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_tradeoff_from_a_search_negates_scores_and_rings_the_refit(search):
    tradeoff, mi_panel = plot_tradeoff(search, mi_split="train")
    results = search.cv_results_
    points = _points(tradeoff)[0]
    np.testing.assert_allclose(
        points.get_offsets(), np.c_[-results["mean_test_eo"], results["mean_test_accuracy"]]
    )
    np.testing.assert_allclose(points.get_array(), -results["mean_train_mi"])
    assert tradeoff.get_xlabel() == "equal-opportunity difference, held-out folds (lower is fairer)"
    assert tradeoff.get_ylabel() == "accuracy, held-out folds"
    assert [t.get_text() for t in tradeoff.texts] == ["λ=0", "λ=1", "λ=3"]
    ring = _points(tradeoff)[1]
    np.testing.assert_allclose(ring.get_offsets(), points.get_offsets()[[search.best_index_]])
    assert len(tradeoff.figure.axes) == 3  # the two panels and the MI colour bar
    line = mi_panel.get_lines()[0]  # then the error-bar caps
    np.testing.assert_allclose(line.get_xdata(), [0.0, 1.0, 3.0])
    np.testing.assert_allclose(line.get_ydata(), -results["mean_train_mi"])
    assert mi_panel.get_xlabel() == "mi_weight (λ)"
    assert mi_panel.get_ylabel() == "MI of z with the attribute, training folds (nats)"


def test_tradeoff_from_rows_averages_runs(fitted):
    runs = pd.DataFrame(
        {
            "w": [0.0, 0.0, 2.0, 2.0],
            "acc": [0.70, 0.80, 0.70, 0.72],
            "gap": [0.2, 0.1, 0.05, 0.03],
            "info": [0.1, 0.2, 0.01, 0.03],
        }
    )
    axes = plot_tradeoff(runs, accuracy="acc", fairness="gap", mi="info", param="w")
    assert len(axes) == 2
    np.testing.assert_allclose(_points(axes[0])[0].get_offsets(), [[0.15, 0.75], [0.04, 0.71]])
    assert any(isinstance(c, LineCollection) for c in axes[0].collections)  # error bars
    assert axes[0].get_xlabel() == "gap (lower is fairer)"
    assert axes[1].get_xlabel() == "w (λ)"
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), [0.15, 0.02])


def test_tradeoff_without_mi_has_one_panel_and_no_colour():
    rows = [{"mi_weight": w, "accuracy": 0.7, "eo": 0.1} for w in (0.0, 1.0)]
    (ax,) = plot_tradeoff(rows, mi=None, selected=1.0)
    assert len(ax.figure.axes) == 1
    assert _points(ax)[0].get_array() is None
    assert len(_points(ax)) == 2  # the points and the ring
    assert not any(isinstance(c, LineCollection) for c in ax.collections)  # one run each


def test_tradeoff_on_one_given_axes_draws_only_the_tradeoff(search):
    _, ax = plt.subplots()
    (drawn,) = plot_tradeoff(search, ax=ax)
    assert drawn is ax
    with pytest.raises(ValueError, match="1 or 2 Axes"):
        plot_tradeoff(search, ax=plt.subplots(1, 3)[1])


def test_tradeoff_errors(search):
    with pytest.raises(KeyError, match="param_clf__mi_weight"):
        plot_tradeoff(search, param="clf__mi_weight")
    with pytest.raises(KeyError, match="mean_test_dp"):
        plot_tradeoff(search, fairness="dp")
    with pytest.raises(KeyError, match=r"\['eo'\]"):
        plot_tradeoff([{"mi_weight": 0.0, "accuracy": 0.7, "mi": 0.1}])
    with pytest.raises(ValueError, match="'test' or 'train'"):
        plot_tradeoff(search, split="valid")
    duplicated = {**search.cv_results_, "param_mi_weight": np.array([0.0, 0.0, 1.0])}
    with pytest.raises(ValueError, match="several candidates per mi_weight"):
        plot_tradeoff(duplicated)


# ------------------------------------------------------------ group metrics
def _metric_frame(sensitive_features):
    return MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "TPR": true_positive_rate,
            "selection_rate": selection_rate,
        },
        y_true=[1, 1, 0, 1, 0, 1, 0, 0],
        y_pred=[1, 0, 0, 1, 1, 1, 1, 0],
        sensitive_features=sensitive_features,
    )


def test_group_metrics_draws_one_bar_per_group_and_metric():
    frame = _metric_frame(pd.Series(["young"] * 4 + ["old"] * 4, name="age group"))
    ax = plot_group_metrics(frame)
    assert isinstance(ax, Axes)
    assert len(ax.patches) == 6
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, frame.by_group.to_numpy().ravel())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["accuracy", "TPR", "selection rate"]
    assert ax.get_xlabel() == "metric" and ax.get_ylabel() == "value per group"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "age group"
    assert [t.get_text() for t in legend.get_texts()] == ["overall", "old", "young"]
    (overall,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    np.testing.assert_allclose(
        [segment[0, 1] for segment in overall.get_segments()], frame.overall.to_numpy()
    )
    assert len(ax.texts) == 6  # one value label per bar


def test_group_metrics_takes_by_group_tables_and_several_features():
    frame = _metric_frame({"age": ["y", "y", "o", "o"] * 2, "sex": ["f", "m"] * 4})
    _, given = plt.subplots()
    ax = plot_group_metrics(frame.by_group, given)
    assert ax is given
    assert len(ax.patches) == 12
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["o, f", "o, m", "y, f", "y, m"]
    assert not ax.collections  # no overall line without a MetricFrame
    single = MetricFrame(
        metrics=accuracy_score, y_true=[0, 1], y_pred=[0, 0], sensitive_features=["a", "b"]
    )
    assert len(plot_group_metrics(single, show_overall=False).patches) == 2


def test_group_metrics_rejects_other_input():
    with pytest.raises(TypeError, match="MetricFrame"):
        plot_group_metrics([0.1, 0.2])


def test_importing_fairmine_does_not_import_plotting():
    code = (
        "import sys, fairmine, fairmine.metrics, fairmine.model_selection; "
        "assert 'fairmine.plotting' not in sys.modules; "
        "assert 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plot_fronts_rings_the_undominated_settings():
    from fairmine.model_selection import pareto_front
    from fairmine.plotting import plot_fronts

    summary = pd.DataFrame(
        {
            "criterion": ["ERM", "demographic_parity", "demographic_parity", "equal_opportunity"],
            "mi_weight": [0.0, 1.0, 3.0, 3.0],
            "accuracy": [0.85, 0.84, 0.82, 0.85],
            "accuracy_std": [0.01, 0.01, 0.02, 0.01],
            "eo": [0.10, 0.12, 0.20, 0.03],
            "dp": [0.18, 0.10, 0.03, 0.15],
        }
    )
    eo_panel, dp_panel = plot_fronts(summary, disparities=("eo", "dp"), front_metric="dp")
    for panel, column in ((eo_panel, "eo"), (dp_panel, "dp")):
        rings = [c for c in panel.collections if c.get_label() == "front"]
        expected = pareto_front(summary["accuracy"], summary[column])
        assert len(rings) == 1 and len(rings[0].get_offsets()) == expected.sum()
    assert "chosen" in dp_panel.get_title() and "chosen" not in eo_panel.get_title()
    labels = dp_panel.get_legend_handles_labels()[1]
    assert sorted(labels) == ["ERM", "demographic_parity", "equal_opportunity", "front"]
    with pytest.raises(KeyError, match="eodds"):
        plot_fronts(summary)
    plt.close("all")
