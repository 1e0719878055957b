"""Point labels overlap neither each other nor the legend on the German and Adult figures."""

import itertools
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from fairmine.plotting import label_points, plot_fronts, plot_tradeoff

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).parents[1] / "benchmarks" / "results"


def _overlaps(figure):
    """Pairs of overlapping label boxes, and labels over a legend, of a drawn figure."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = []
    for ax in figure.axes:
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts]
        found += [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
                  if box_a.overlaps(box_b)]  # fmt: skip
        legends = [a.get_legend() for a in figure.axes if a.get_legend() is not None]
        for (text, box), legend in itertools.product(boxes, legends):
            if box.overlaps(legend.get_window_extent(renderer)):
                found.append((text, "legend"))
    plt.close(figure)
    return found


@pytest.fixture
def fairness_criteria(monkeypatch):
    monkeypatch.syspath_prepend(str(RESULTS.parent))
    import fairness_criteria

    return fairness_criteria


@pytest.mark.parametrize("dataset", ["german", "adult"])
def test_criteria_figure_labels_do_not_overlap(fairness_criteria, dataset):
    runs = pd.read_csv(RESULTS / f"fairness_criteria_{dataset}_runs.csv")
    summary = fairness_criteria.summarise(runs)
    figure = fairness_criteria.figure(summary, dataset, runs["run"].nunique())
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert "w=3" in texts and "ERM MLP" in texts  # labels are drawn, not all dropped
    assert _overlaps(figure) == []


def _fronts_summary(dataset):
    """The criteria benchmark's fairmine rows as a sweep-style summary (criterion, mi_weight)."""
    runs = pd.read_csv(RESULTS / f"fairness_criteria_{dataset}_runs.csv")
    mine = runs[runs["model"].str.startswith(("fairmine ", "ERM MLP"))].copy()
    mine["criterion"] = mine["model"].str.split().str[1].where(mine["model"] != "ERM MLP", "ERM")
    mine["mi_weight"] = mine["model"].str.extract(r"w=(\d+)")[0].astype(float).fillna(0)
    grouped = mine.groupby(["criterion", "mi_weight"], sort=False)
    figures = ["accuracy", "eo", "eodds", "dp"]
    return grouped[figures].mean().join(grouped[figures].std(ddof=0).add_suffix("_std"))


@pytest.mark.parametrize("dataset", ["german", "adult"])
def test_fronts_and_tradeoff_labels_do_not_overlap(dataset):
    summary = _fronts_summary(dataset).reset_index()
    axes = plot_fronts(summary, front_metric="eo")
    assert sum(len(ax.texts) for ax in axes) >= len(summary)  # most points keep a label
    assert _overlaps(axes[0].figure) == []
    demographic = summary[summary["criterion"].isin(["ERM", "DP"])]
    axes = plot_tradeoff(demographic, mi=None, selected=3.0)
    assert len(axes[0].texts) >= 3
    assert _overlaps(axes[0].figure) == []


def test_label_points_moves_a_crowded_label_and_drops_one_with_no_room():
    fig, ax = plt.subplots()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    placed = label_points(ax, [(0.5, 0.5, "first"), (0.5, 0.5, "second")])
    assert [t.get_text() for t in placed] == ["first", "second"]
    assert placed[0].get_position() != placed[1].get_position()  # different offsets
    crowd = label_points(ax, [(0.5, 0.5, f"label {i}") for i in range(40)], fontsize="large")
    assert 0 < len(crowd) < 40  # the rest had no free place
    assert _overlaps(fig) == []
