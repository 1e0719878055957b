"""Plots for training curves, the accuracy-fairness trade-off and per-group audits.

Needs matplotlib (``pip install "fairmine[plot]"``); ``import fairmine`` does
not import this module, so the estimator works without it. Each function
draws on the axes it is given, or on a new figure made with
`matplotlib.pyplot.subplots` (shown by Jupyter at the end of the cell),
returns the axes it drew on and never calls ``plt.show()``.

- [`plot_history`][fairmine.plotting.plot_history]: task loss and MI estimate per epoch, one line
  per model.
- [`plot_tradeoff`][fairmine.plotting.plot_tradeoff]: accuracy against a fairness disparity across
  ``mi_weight``, coloured by MI, from a grid search or a table of runs.
- [`plot_fronts`][fairmine.plotting.plot_fronts]: accuracy against each disparity for several series
  (criteria) at once, with the settings on the accuracy-fairness front marked.
- [`plot_group_metrics`][fairmine.plotting.plot_group_metrics]: grouped bars of a fairlearn
  ``MetricFrame``.
- [`label_points`][fairmine.plotting.label_points]: point labels that overlap neither each other nor
  the legend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["label_points", "plot_fronts", "plot_group_metrics", "plot_history", "plot_tradeoff"]

#: Axis labels of the quantities fairmine records or scores, by key.
_LABELS = {
    "task_loss": "task loss (cross-entropy)",
    "loss": "loss (task + mi_weight x MI)",
    "mi": "MI estimate (nats)",
    "acc": "accuracy",
    "accuracy": "accuracy",
    "r2": "R²",
    "z_active": "active units of z (fraction)",
    "eo": "equal-opportunity difference",
    "equal_opportunity": "equal-opportunity difference",
    "eod": "equalized-odds difference",
    "eodds": "equalized-odds difference",
    "audit_mi": "MI of z with the attribute (nats)",
    "equalized_odds": "equalized-odds difference",
    "dp": "demographic-parity difference",
    "demographic_parity": "demographic-parity difference",
}


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " "))


def _marker_boxes(panel: Axes) -> list[Any]:
    """Pixel boxes of the filled markers on a panel (lines' markers and scatter points)."""
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_rgba_array
    from matplotlib.transforms import Bbox

    scale = panel.figure.dpi / 72  # points to pixels
    centres: list[tuple[np.ndarray, float]] = []
    for line in panel.get_lines():
        if line.get_marker() in (None, "None", "", " ", ","):
            continue
        xy = np.column_stack([np.asarray(v, dtype=float) for v in line.get_data()])
        centres.append((panel.transData.transform(xy), line.get_markersize() * scale / 2))
    for collection in panel.collections:
        faces = to_rgba_array(collection.get_facecolor())
        if not isinstance(collection, PathCollection) or not len(faces) or faces[:, 3].max() == 0:
            continue  # hollow rings (the fronts') may sit under a label
        sizes = collection.get_sizes()
        radius = np.sqrt(sizes.max() if len(sizes) else 36.0) * scale / 2
        centres.append((collection.get_offset_transform().transform(collection.get_offsets()),
                        radius))  # fmt: skip
    boxes = []
    for points, radius in centres:
        points = np.ma.filled(np.ma.asarray(points, dtype=float), np.nan)  # NaN offsets: masked
        radius = max(radius - 1.0, 0.5)  # a label may touch a marker's edge
        for x, y in points[np.isfinite(points).all(axis=1)]:
            boxes.append(Bbox([[x - radius, y - radius], [x + radius, y + radius]]))
    return boxes


def _subplots(n_panels: int, width: float = 5.0, height: float = 3.8) -> np.ndarray:
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(
        1, n_panels, figsize=(width * n_panels, height), squeeze=False, layout="constrained"
    )
    return axes[0]


#: where a label may go beside its point, in points, nearest first
_LABEL_OFFSETS = ((4, 3), (4, -3), (-4, 3), (-4, -3), (0, 8), (0, -8), (9, 0), (-9, 0),
                  (4, 14), (4, -14), (-4, 14), (-4, -14))  # fmt: skip


def label_points(
    panel: Axes,
    points: Sequence[tuple[float, float, str]],
    *,
    avoid: Sequence[Any] = (),
    **style: Any,
) -> list[Any]:
    """Label points where no label overlaps another label, a marker or an artist to avoid.

    A small layout step: each label, in the order given, takes the first of a
    dozen places around its point (right above, right below, left above, ...)
    where its box overlaps no text already on the panel (labels placed before
    it included), no filled marker drawn on the panel and none of ``avoid`` (a
    legend, say); a label with no free place is left out. Put the labels that matter most
    (the points on a front) first. Draw the legend before calling it. The
    labels take no part in the figure's layout engine, so the layout that
    placed them is the layout that is saved.

    Parameters
    ----------
    panel : matplotlib Axes
        Where the points are drawn.
    points : sequence of (x, y, text)
        Data coordinates and label of each point.
    avoid : sequence of matplotlib artists, default=()
        Artists no label may overlap (legends, colour bars).
    **style
        Passed to `matplotlib.axes.Axes.annotate` (``fontsize``, ``color``).

    Returns
    -------
    list of matplotlib Text
        The labels placed (left-out ones are not in it).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # draw off-screen
    >>> import matplotlib.pyplot as plt
    >>> from fairmine.plotting import label_points
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0.1, 0.1001, 0.5], [0.8, 0.8, 0.7], "o")
    >>> labels = label_points(ax, [(0.1, 0.8, "a"), (0.1001, 0.8, "b"), (0.5, 0.7, "c")])
    >>> [label.get_text() for label in labels]  # "b" moved to a free place beside its point
    ['a', 'b', 'c']
    """
    figure = panel.figure
    figure.canvas.draw()  # settle the layout: the boxes below are those that are saved
    renderer = figure.canvas.get_renderer()
    taken = [artist.get_window_extent(renderer) for artist in avoid if artist is not None]
    taken += [text.get_window_extent(renderer) for text in panel.texts]  # earlier labels
    taken += _marker_boxes(panel)
    placed = []
    for x, y, text in points:
        for dx, dy in _LABEL_OFFSETS:
            label = panel.annotate(
                text, (x, y), xytext=(dx, dy), textcoords="offset points",
                ha="left" if dx > 0 else "right" if dx < 0 else "center",
                va="bottom" if dy > 0 else "top" if dy < 0 else "center", **style,
            )  # fmt: skip
            label.set_in_layout(False)
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken):
                taken.append(box)
                placed.append(label)
                break
            label.remove()
    return placed


def _axes_array(ax: Axes | Sequence[Axes]) -> np.ndarray:
    """Return one Axes or a (nested) sequence of them as a flat object array."""
    return np.atleast_1d(np.asarray(ax, dtype=object)).ravel()


# ---------------------------------------------------------------- histories
def _final_step(model: Any) -> Any:
    """Return the estimator at the end of a Pipeline, or the object itself."""
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _history_rows(model: Any) -> list[Mapping[str, Any]]:
    history = getattr(_final_step(model), "history_", model)
    if (
        isinstance(history, str | bytes)
        or not isinstance(history, Sequence)
        or not history
        or not all(isinstance(row, Mapping) for row in history)
    ):
        raise TypeError(
            "plot_history takes fitted MIUnbiasedClassifier instances (or pipelines ending in "
            "one) or their history_ (a skorch History: a list of one dict per epoch); got "
            f"{type(model).__name__}"
        )
    return list(history)


def _default_label(model: Any, index: int) -> str:
    weight = getattr(_final_step(model), "mi_weight", None)
    if weight is None:
        return f"model {index + 1}"
    return "ERM (mi_weight=0)" if weight == 0 else f"mi_weight={weight:g}"


def plot_history(
    *models: Any,
    labels: Sequence[str] | None = None,
    metrics: Sequence[str] = ("task_loss", "mi"),
    ax: Axes | Sequence[Axes] | None = None,
) -> np.ndarray:
    """Plot training curves per epoch: by default the task loss and the MI estimate.

    One panel per entry of ``metrics``, one colour per model. A metric ``m``
    draws the history columns ``train_m`` (solid), ``valid_m`` (dashed,
    present when the estimator had a ``train_split``) and ``audit_m`` (dotted
    points with their standard error, recorded by
    [`MIAudit`][fairmine.mi.MIAudit]): for ``"mi"``, the training critic's
    estimate beside a fresh critic's. A metric that is itself a column, such
    as one recorded by a callback of yours, is drawn as it is.

    Parameters
    ----------
    *models : MIUnbiasedClassifier, Pipeline or skorch History
        Fitted estimators (or pipelines ending in one) or their ``history_``.
    labels : sequence of str or None, default=None
        Legend entry of each model; None labels estimators by their
        ``mi_weight`` (``"ERM (mi_weight=0)"``, ``"mi_weight=3"``) and
        histories as ``"model 1"``, ``"model 2"``, ...
    metrics : str or sequence of str, default=("task_loss", "mi")
        What to plot, one panel each: ``"task_loss"`` (cross-entropy),
        ``"mi"`` (the critic's Donsker-Varadhan estimate, nats), ``"loss"``,
        ``"acc"`` (validation only), ``"z_active"``, or any history column.
    ax : Axes, sequence of Axes or None, default=None
        One Axes per metric to draw on; None makes a new figure.

    Returns
    -------
    ndarray of matplotlib Axes
        One per metric; ``axes[0].figure`` is the figure.

    Raises
    ------
    KeyError
        When no model recorded one of ``metrics``.

    See Also
    --------
    fairmine.MIUnbiasedClassifier : its ``history_`` attribute lists the columns.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # draw off-screen
    >>> import numpy as np
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.plotting import plot_history
    >>> rng = np.random.RandomState(0)
    >>> X, c = rng.normal(size=(100, 3)), rng.randint(0, 2, 100)
    >>> y = (X[:, 0] + c > 0.5).astype(int)
    >>> from fairmine.mi import DonskerVaradhan, MIAudit
    >>> quick = dict(max_epochs=3, lr=1e-2, penalty=DonskerVaradhan(steps=1, warmup_steps=10),
    ...              random_state=0, callbacks=[MIAudit(every=3, max_steps=100)])
    >>> erm = MIUnbiasedClassifier(mi_weight=0, **quick).fit(X, y, sensitive_features=c)
    >>> fair = MIUnbiasedClassifier(mi_weight=3, **quick).fit(X, y, sensitive_features=c)
    >>> axes = plot_history(erm, fair, labels=["ERM", "fairmine"])
    >>> [a.get_ylabel() for a in axes]
    ['task loss (cross-entropy)', 'MI estimate (nats)']
    >>> [line.get_label() for line in axes[1].get_lines()]  # ERM trains no critic
    ['ERM', 'fairmine (train)', 'fairmine (audit)']
    """
    if not models:
        raise TypeError("plot_history needs at least one fitted estimator or history")
    histories = [_history_rows(model) for model in models]
    if labels is None:
        labels = [_default_label(model, i) for i, model in enumerate(models)]
    elif len(labels) != len(models):
        raise ValueError(f"got {len(labels)} labels for {len(models)} models")
    from matplotlib.ticker import MaxNLocator

    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    axes = _subplots(len(metrics)) if ax is None else _axes_array(ax)
    if len(axes) != len(metrics):
        raise ValueError(f"ax must hold one Axes per metric ({len(metrics)}), got {len(axes)}")

    for metric, panel in zip(metrics, axes, strict=True):
        drawn = 0
        for i, (rows, label) in enumerate(zip(histories, labels, strict=True)):
            columns = set().union(*rows)
            prefixes = ("train", "valid", "audit")
            keys = [f"{p}_{metric}" for p in prefixes if f"{p}_{metric}" in columns]
            if not keys and metric in columns:
                keys = [metric]
            for key in keys:
                suffix = f" ({key.split('_')[0]})" if len(keys) > 1 else ""
                _draw_column(panel, rows, key, color=f"C{i}", label=label + suffix)
                drawn += 1
        if drawn == 0:
            raise KeyError(
                f"no model recorded {metric!r} (looked for train_{metric}, valid_{metric} and "
                f"{metric}); the first history has {sorted(histories[0][-1])}"
            )
        panel.set_xlabel("epoch")
        panel.set_ylabel(_label(metric))
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        panel.legend(fontsize="small")
    return axes


def _draw_column(panel: Axes, rows: list[dict], key: str, color: str, label: str) -> None:
    """One history column: training solid, validation dashed, audits as dotted points.

    An audit (``audit_*``, recorded at some epochs only) also draws its standard
    error (``audit_*_std``) as a vertical bar at each point.
    """
    present = [(row.get("epoch", n + 1), row) for n, row in enumerate(rows) if key in row]
    epochs = [epoch for epoch, _ in present]
    values = [row[key] for _, row in present]
    if key.startswith("audit_"):
        panel.plot(epochs, values, ":", color=color, marker="o", label=label)
        errors = [row.get(f"{key}_std", np.nan) for _, row in present]
        low = np.subtract(values, errors)
        high = np.add(values, errors)
        panel.vlines(epochs, low, high, color=color, alpha=0.6)
        return
    style = "--" if key.startswith("valid_") else "-"
    panel.plot(epochs, values, style, color=color, marker=".", label=label)


# ----------------------------------------------------------------- trade-off
def _tradeoff_from_search(
    cv_results: Mapping[str, Any],
    columns: Mapping[str, str],
    param: str,
    splits: Mapping[str, str],
) -> pd.DataFrame:
    param_key = f"param_{param}"
    if param_key not in cv_results:
        raise KeyError(
            f"cv_results_ has no {param_key!r}; set param= to the grid's name of the penalty "
            f"(e.g. 'clf__mi_weight' in a pipeline). Parameters: "
            f"{sorted(k for k in cv_results if k.startswith('param_'))}"
        )
    table = pd.DataFrame({param: np.asarray(cv_results[param_key], dtype=float)})
    if table[param].duplicated().any():
        raise ValueError(
            f"the grid has several candidates per {param} (it varies other parameters too); "
            f"pass a DataFrame of the rows to compare instead, one per value of {param} "
            "(or several runs of each, which are averaged)"
        )
    for role, name in columns.items():
        mean_key = f"mean_{splits[role]}_{name}"
        if mean_key not in cv_results:
            raise KeyError(
                f"cv_results_ has no {mean_key!r}: score the search with a scoring dict "
                f"holding {name!r} (and return_train_score=True for the training folds). "
                f"Scores: {sorted(k for k in cv_results if k.startswith('mean_'))}"
            )
        # fairness and MI scorers follow scikit-learn's "greater is better": negate them back
        sign = 1.0 if role == "accuracy" else -1.0
        table[role] = sign * np.asarray(cv_results[mean_key], dtype=float)
        table[f"{role}_std"] = np.asarray(cv_results[f"std_{splits[role]}_{name}"], dtype=float)
    return table


def _tradeoff_from_rows(
    rows: pd.DataFrame | Sequence[Mapping[str, Any]], columns: Mapping[str, str], param: str
) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    missing = [c for c in (param, *columns.values()) if c not in frame]
    if missing:
        raise KeyError(f"results lack the columns {missing}; they have {list(frame.columns)}")
    grouped = frame.groupby(param, sort=True)[list(columns.values())]
    means, stds, counts = grouped.mean(), grouped.std(ddof=0), grouped.count()
    table = pd.DataFrame({param: means.index.to_numpy(dtype=float)})
    for role, name in columns.items():
        table[role] = means[name].to_numpy(dtype=float)
        # no error bar for a lambda measured once
        table[f"{role}_std"] = stds[name].where(counts[name] > 1).to_numpy(dtype=float)
    return table


def plot_tradeoff(
    results: Any,
    *,
    accuracy: str = "accuracy",
    fairness: str = "eo",
    mi: str | None = "mi",
    param: str = "mi_weight",
    split: str = "test",
    mi_split: str | None = None,
    selected: float | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> np.ndarray:
    """Plot the accuracy-fairness trade-off across the MI weight lambda.

    The first panel puts each lambda at (fairness disparity, accuracy), joined
    in order of lambda, annotated with its value and coloured by the MI
    between ``z`` and the attribute: the upper left is accurate and fair.
    The second panel (when ``mi`` is given and ``ax`` is not a single Axes)
    draws that MI against lambda. Error bars are standard deviations over
    the folds of a search, or over the rows of a table that share a lambda.

    Parameters
    ----------
    results : fitted GridSearchCV, its ``cv_results_``, DataFrame or list of dicts
        Either a search over ``param`` scored with a scoring dict (such as
        ``{"accuracy": "accuracy", "eo": equal_opportunity_scorer,
        "mi": make_mi_scorer()}``), where the keys below name the scorers; or
        a table with one row per lambda, or several (runs or splits, which
        are averaged), where the keys below name its columns. Scorers return
        the negated disparity and MI (greater is better) and are negated
        back; table columns hold the plain values.
    accuracy : str, default="accuracy"
        Scorer key or column of the task score.
    fairness : str, default="eo"
        Scorer key or column of the disparity (0 is fair), such as an
        equal-opportunity difference.
    mi : str or None, default="mi"
        Scorer key or column of the MI (nats); None draws neither the colour
        nor the second panel.
    param : str, default="mi_weight"
        Name of lambda in the grid (``"clf__mi_weight"`` for a pipeline step
        named ``clf``) or in the table.
    split : {"test", "train"}, default="test"
        For a search: read accuracy and disparity on the held-out folds
        (``mean_test_*``) or, with ``return_train_score=True``, on the
        training folds (``mean_train_*``).
    mi_split : {"test", "train"} or None, default=None
        For a search: where the MI is read; None uses ``split``.
        [`MISelectionRule`][fairmine.model_selection.MISelectionRule] ranks the
        training-fold MI by default, so ``"train"`` shows what it saw.
    selected : float or None, default=None
        A lambda to ring in red; None rings the refitted candidate of a
        search (``best_index_``) and nothing for a table.
    ax : Axes, pair of Axes or None, default=None
        A single Axes draws only the trade-off panel; a pair draws both;
        None makes a new figure.

    Returns
    -------
    ndarray of matplotlib Axes
        The trade-off panel, then the MI panel when drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # draw off-screen
    >>> from fairmine.plotting import plot_tradeoff
    >>> runs = [  # one row per model, e.g. test scores and an estimate_mi audit
    ...     {"mi_weight": 0.0, "accuracy": 0.75, "eo": 0.13, "mi": 0.020},
    ...     {"mi_weight": 1.0, "accuracy": 0.75, "eo": 0.08, "mi": 0.008},
    ...     {"mi_weight": 3.0, "accuracy": 0.74, "eo": 0.05, "mi": 0.004},
    ... ]
    >>> tradeoff, mi_panel = plot_tradeoff(runs, selected=3.0)
    >>> tradeoff.get_xlabel(), tradeoff.get_ylabel()
    ('equal-opportunity difference (lower is fairer)', 'accuracy')
    >>> mi_panel.get_ylabel()
    'MI of z with the attribute (nats)'

    With a search (metadata routing on, see the user guide)::

        search = GridSearchCV(
            make_pipeline(german_preprocessor(), MIUnbiasedClassifier()),
            {"miunbiasedclassifier__mi_weight": [0.0, 1.0, 3.0, 10.0]},
            scoring={"accuracy": "accuracy", "eo": equal_opportunity_scorer,
                     "mi": make_mi_scorer()},
            refit=MISelectionRule(param="miunbiasedclassifier__mi_weight"),
            return_train_score=True,
        ).fit(X, y, sensitive_features=s)
        plot_tradeoff(search, param="miunbiasedclassifier__mi_weight", mi_split="train")
    """
    if split not in ("test", "train") or mi_split not in ("test", "train", None):
        raise ValueError(
            f"split and mi_split must be 'test' or 'train', got {split!r} and {mi_split!r}"
        )
    columns = {"accuracy": accuracy, "fairness": fairness}
    if mi is not None:
        columns["mi"] = mi
    cv_results = getattr(results, "cv_results_", results)
    if isinstance(cv_results, Mapping) and "params" in cv_results:
        splits = {"accuracy": split, "fairness": split, "mi": mi_split or split}
        table = _tradeoff_from_search(cv_results, columns, param, splits)
        notes = {role: _FOLD_NOTES[where] for role, where in splits.items()}
        if selected is None and hasattr(results, "best_index_"):
            selected = float(table[param].iloc[results.best_index_])
    else:
        table = _tradeoff_from_rows(results, columns, param)
        notes = {"accuracy": "", "fairness": "", "mi": ""}

    n_panels = 1 if mi is None else 2
    if ax is None:
        axes = _subplots(n_panels, width=5.2)
    else:
        axes = _axes_array(ax)
        if len(axes) not in (1, n_panels):
            raise ValueError(f"ax must hold 1 or {n_panels} Axes, got {len(axes)}")
    chosen = None if selected is None else (table[param] == selected).to_numpy()
    _draw_tradeoff(axes[0], table, columns, notes, param, chosen)
    if len(axes) == 2:
        _draw_mi(axes[1], table, notes["mi"], param, chosen)
    return axes


_FOLD_NOTES = {"test": ", held-out folds", "train": ", training folds"}
_LAMBDA = "\N{GREEK SMALL LETTER LAMDA}"


def _ring(panel: Axes, x: np.ndarray, y: np.ndarray, chosen: np.ndarray | None) -> None:
    """Circle the selected candidate in red and add it to the legend."""
    if chosen is None or not chosen.any():
        return
    panel.scatter(
        x[chosen], y[chosen], s=220, facecolors="none", edgecolors="red", linewidths=1.5,
        zorder=3, label="selected",
    )  # fmt: skip
    panel.legend(fontsize="small")


def _errors(std: np.ndarray) -> np.ndarray | None:
    return std if np.isfinite(std).any() else None


def _draw_tradeoff(
    panel: Axes,
    table: pd.DataFrame,
    columns: Mapping[str, str],
    notes: Mapping[str, str],
    param: str,
    chosen: np.ndarray | None,
) -> None:
    x, y = table["fairness"].to_numpy(), table["accuracy"].to_numpy()
    panel.plot(x, y, color="0.6", linewidth=1, zorder=1)
    xerr, yerr = (
        _errors(table["fairness_std"].to_numpy()),
        _errors(table["accuracy_std"].to_numpy()),
    )
    if xerr is not None or yerr is not None:
        panel.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.75", zorder=1)
    style = {"s": 60, "edgecolors": "k", "linewidths": 0.5, "zorder": 2}
    if "mi" in table:
        points = panel.scatter(x, y, c=table["mi"], cmap="viridis", **style)
        panel.figure.colorbar(points, ax=panel, label=f"MI (nats){notes['mi']}")
    else:
        panel.scatter(x, y, color="C0", **style)
    _ring(panel, x, y, chosen)
    panel.set_xlabel(f"{_label(columns['fairness'])}{notes['fairness']} (lower is fairer)")
    panel.set_ylabel(f"{_label(columns['accuracy'])}{notes['accuracy']}")
    panel.margins(0.15)
    panel.grid(alpha=0.3)
    # neighbouring lambdas often land close together: the layout step keeps them apart
    label_points(
        panel,
        [(xi, yi, f"{_LAMBDA}={w:g}") for w, xi, yi in zip(table[param], x, y, strict=True)],
        avoid=[panel.get_legend()],
        fontsize="small",
    )


def _draw_mi(
    panel: Axes, table: pd.DataFrame, note: str, param: str, chosen: np.ndarray | None
) -> None:
    weights, mi = table[param].to_numpy(), table["mi"].to_numpy()
    panel.errorbar(
        weights, mi, yerr=_errors(table["mi_std"].to_numpy()), color="C0", marker="o", capsize=3
    )
    _ring(panel, weights, mi, chosen)
    positive = weights[weights > 0]
    if len(positive) > 1 and positive.max() / positive.min() > 10:
        # lambda grids are roughly geometric and often start at 0: linear up to the
        # smallest positive value, logarithmic beyond
        panel.set_xscale("symlog", linthresh=positive.min())
    panel.set_xticks(weights, [f"{w:g}" for w in weights])
    panel.set_xlabel(f"{param.rsplit('__', 1)[-1]} ({_LAMBDA})")  # without pipeline prefixes
    panel.set_ylabel(f"MI of z with the attribute{note} (nats)")
    panel.grid(alpha=0.3)


# -------------------------------------------------------------- fronts
def plot_fronts(
    summary: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    accuracy: str = "accuracy",
    disparities: Sequence[str] = ("eo", "eodds", "dp"),
    series: str = "criterion",
    param: str = "mi_weight",
    front_metric: str | None = None,
    degenerate: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> np.ndarray:
    """Plot accuracy against each disparity, one colour per series, with the fronts marked.

    One panel per disparity puts every row (a setting, such as a criterion at
    one lambda) at (disparity, accuracy), with standard-deviation error bars
    where the table has ``<column>_std`` columns, one colour and marker per
    value of ``series``, each point labelled with its ``param`` (the ``"ERM"``
    series with "ERM"). In every panel the settings that no other beats on
    both accuracy and that panel's disparity
    ([`pareto_front`][fairmine.model_selection.pareto_front]) are joined by a
    dashed line and ringed; the panel of ``front_metric`` says so in its
    title. The panels sit two to a row, and one legend sits in the spare
    place of the last row (or below the panels), where it hides no point.

    Parameters
    ----------
    summary : DataFrame or list of dicts
        One row per setting with the columns named below (means), such as
        the output of [`summarise_sweep`][fairmine.experiments.summarise_sweep].
    accuracy : str, default="accuracy"
        Column of the task score (higher is better).
    disparities : sequence of str, default=("eo", "eodds", "dp")
        Columns of the disparities (0 is fair), one panel each.
    series : str, default="criterion"
        Column whose values get a colour each (``"ERM"`` is drawn in black).
    param : str, default="mi_weight"
        Column that labels each point.
    front_metric : str or None, default=None
        The disparity whose front decides a choice (named in its panel's title).
    degenerate : DataFrame, list of dicts or None, default=None
        Settings no better than a constant, drawn as grey crosses and never
        on a front.
    ax : Axes, sequence of Axes or None, default=None
        One Axes per disparity; None makes a new figure.

    Returns
    -------
    ndarray of matplotlib Axes
        One per disparity.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # draw off-screen
    >>> from fairmine.plotting import plot_fronts
    >>> rows = [
    ...     {"criterion": "ERM", "mi_weight": 0, "accuracy": 0.85, "eo": 0.10, "dp": 0.18},
    ...     {"criterion": "equal_opportunity", "mi_weight": 3, "accuracy": 0.85, "eo": 0.03,
    ...      "dp": 0.15},
    ...     {"criterion": "demographic_parity", "mi_weight": 3, "accuracy": 0.83, "eo": 0.20,
    ...      "dp": 0.03},
    ... ]
    >>> eo_panel, dp_panel = plot_fronts(rows, disparities=("eo", "dp"))
    >>> eo_panel.get_xlabel(), dp_panel.get_ylabel()
    ('equal-opportunity difference (lower is fairer)', 'accuracy')
    """
    from .model_selection import pareto_front

    table = pd.DataFrame(summary)
    missing = [c for c in (accuracy, *disparities, series, param) if c not in table]
    if missing:
        raise KeyError(f"summary lacks the columns {missing}; it has {list(table.columns)}")
    spare = None
    if ax is None:
        axes, spare = _panel_grid(len(disparities))
    else:
        axes = _axes_array(ax)
    if len(axes) != len(disparities):
        raise ValueError(f"ax must hold {len(disparities)} Axes, got {len(axes)}")
    names = list(dict.fromkeys(table[series]))
    markers = "osD^v<>p*h"
    for panel, disparity in zip(axes, disparities, strict=True):
        for i, name in enumerate(names):
            rows = table[table[series] == name]
            x, y = rows[disparity].to_numpy(float), rows[accuracy].to_numpy(float)
            color = "k" if name == "ERM" else f"C{i}"
            panel.errorbar(
                x, y, xerr=_std(rows, disparity), yerr=_std(rows, accuracy), fmt=markers[i % 10],
                color=color, ecolor=color, alpha=0.85, capsize=2, label=str(name),
            )  # fmt: skip
        on_front = pareto_front(table[accuracy], table[disparity])
        front = table[on_front].sort_values(disparity)
        panel.plot(front[disparity], front[accuracy], "--", color="0.4", linewidth=1, zorder=0)
        panel.scatter(
            front[disparity], front[accuracy], s=200, facecolors="none", edgecolors="red",
            linewidths=1.2, zorder=3, label="front",
        )  # fmt: skip
        if degenerate is not None and len(degenerate):
            crosses = pd.DataFrame(degenerate)
            panel.scatter(
                crosses[disparity], crosses[accuracy], marker="x", color="0.5", zorder=2,
                label="degenerate (never on the front)",
            )  # fmt: skip
        chosen = " (chosen metric)" if disparity == front_metric else ""
        panel.set_title(f"front: no setting beats a ringed one{chosen}", fontsize="small")
        panel.set_xlabel(f"{_label(disparity)} (lower is fairer)")
        panel.set_ylabel(_label(accuracy))
        panel.grid(alpha=0.3)
    legend = _one_legend(axes, spare, title=f"{series} ({param} beside points)")
    for panel, disparity in zip(axes, disparities, strict=True):
        # the front's labels first: where points crowd, those are the ones kept
        order = np.argsort(~pareto_front(table[accuracy], table[disparity]), kind="stable")
        rows = table.iloc[order]
        label_points(
            panel,
            [
                (r[disparity], r[accuracy], "ERM" if r[series] == "ERM" else f"{r[param]:g}")
                for _, r in rows.iterrows()
            ],
            avoid=[legend],
            fontsize="small",
        )
    return axes


def _panel_grid(n_panels: int) -> tuple[np.ndarray, Axes | None]:
    """Panels two to a row (one alone in a row); the spare place of the last row, if any."""
    import matplotlib.pyplot as plt

    columns = min(n_panels, 2)
    rows = -(-n_panels // columns)
    _, grid = plt.subplots(
        rows, columns, figsize=(3.9 * columns, 3.3 * rows), squeeze=False, layout="constrained"
    )
    places = grid.ravel()
    spare = places[n_panels] if len(places) > n_panels else None
    if spare is not None:
        spare.axis("off")
    return places[:n_panels], spare


def _one_legend(axes: np.ndarray, spare: Axes | None, title: str) -> Any:
    """One legend for all panels: in the spare place, else below them (constrained layout)."""
    handles, labels = axes[0].get_legend_handles_labels()
    options = {"fontsize": "small", "title": title, "title_fontsize": "small"}
    if spare is not None:
        return spare.legend(handles, labels, loc="center", **options)
    figure = axes[0].figure
    if figure.get_layout_engine() is not None and len(axes) > 1:
        return figure.legend(
            handles, labels, loc="outside lower center", ncols=min(len(labels), 4), **options
        )
    return axes[-1].legend(handles, labels, **options)


def _std(rows: pd.DataFrame, column: str) -> np.ndarray | None:
    return rows[f"{column}_std"].to_numpy(float) if f"{column}_std" in rows else None


# -------------------------------------------------------------- group audit
def plot_group_metrics(
    metric_frame: Any, ax: Axes | None = None, *, show_overall: bool = True
) -> Axes:
    """Draw per-group metrics as grouped bars: one cluster per metric, one bar per group.

    Parameters
    ----------
    metric_frame : fairlearn.metrics.MetricFrame, DataFrame or Series
        A ``MetricFrame`` (its ``by_group`` is drawn) or a ``by_group``
        table: rows are groups (a MultiIndex for several sensitive features),
        columns metrics.
    ax : Axes or None, default=None
        Where to draw; None makes a new figure.
    show_overall : bool, default=True
        Draw each metric's value on all samples (``MetricFrame.overall``) as
        a black line across its cluster (only for a ``MetricFrame`` without
        control features).

    Returns
    -------
    matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # draw off-screen
    >>> from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
    >>> from sklearn.metrics import accuracy_score
    >>> from fairmine.plotting import plot_group_metrics
    >>> frame = MetricFrame(
    ...     metrics={"accuracy": accuracy_score, "TPR": true_positive_rate,
    ...              "selection rate": selection_rate},
    ...     y_true=[1, 1, 0, 1, 0, 1], y_pred=[1, 0, 0, 1, 1, 1],
    ...     sensitive_features=["young", "young", "young", "old", "old", "old"])
    >>> ax = plot_group_metrics(frame)
    >>> len(ax.patches)  # 3 metrics x 2 groups
    6
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['accuracy', 'TPR', 'selection rate']
    """
    by_group = getattr(metric_frame, "by_group", metric_frame)
    if isinstance(by_group, pd.Series):
        by_group = by_group.to_frame()
    if not isinstance(by_group, pd.DataFrame) or by_group.empty:
        raise TypeError(
            "plot_group_metrics takes a fairlearn MetricFrame or its by_group table, got "
            f"{type(metric_frame).__name__}"
        )
    values = by_group.to_numpy(dtype=float)
    n_groups, n_metrics = values.shape
    if ax is None:
        ax = _subplots(1, width=max(5.0, 1.2 + 0.5 * n_groups * n_metrics))[0]
    width = 0.8 / n_groups
    scale = np.nanmax(np.abs(values))
    centres = np.arange(n_metrics)
    for g, group in enumerate(by_group.index):
        name = ", ".join(map(str, group)) if isinstance(group, tuple) else str(group)
        offsets = centres - 0.4 + width * (g + 0.5)
        ax.bar(offsets, values[g], width, label=name, color=f"C{g}")
        # values at the foot of tall bars, clear of the overall line; above short bars
        for x, value in zip(offsets, values[g], strict=True):
            tall = abs(value) >= 0.15 * scale
            ax.annotate(
                f"{value:.2f}", (x, value * (not tall)), xytext=(0, 3 if value >= 0 else -3),
                textcoords="offset points", ha="center", va="bottom" if value >= 0 else "top",
                fontsize="x-small", color="white" if tall else "black",
            )  # fmt: skip
    if show_overall and hasattr(metric_frame, "by_group") and metric_frame.control_levels is None:
        overall = np.atleast_1d(np.asarray(metric_frame.overall, dtype=float))
        ax.hlines(overall, centres - 0.42, centres + 0.42, colors="k", linewidths=1.5,
                  label="overall")  # fmt: skip
    ax.set_xticks(centres, [str(m).replace("_", " ") for m in by_group.columns])
    ax.set_xlabel("metric")
    ax.set_ylabel("value per group")
    if np.nanmin(values) >= 0 and np.nanmax(values) <= 1:
        ax.set_ylim(0, 1.05)
    ax.legend(
        title=", ".join(str(n) for n in by_group.index.names if n is not None) or None,
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    ax.grid(axis="y", alpha=0.3)
    return ax
