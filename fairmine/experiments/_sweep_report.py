"""The sweep's report: one self-contained HTML page to open offline in any browser.

``report.html`` holds the summary table, the fronts, the per-group rates of the chosen setting
(fairlearn's ``MetricFrame``), the MI a fresh critic finds, and the command and versions that
made it. Figures are embedded as base64 PNG, so the file needs nothing beside it.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
import platform
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import mean_absolute_error

from .._devices import torch_threads
from ..exceptions import FairmineWarning
from ._mi_figures import mi_figures
from ._output import write_atomically
from ._sweep import TASKS, SweepGrid, SweepTable, _fronts_figure, fit_setting, markdown_table

__all__ = ["REPORT_SECTIONS", "choose_setting", "environment", "write_sweep_report"]

#: the ``id`` of each section of the report, in order
REPORT_SECTIONS = ("summary", "fronts", "groups", "mi", "provenance")
#: the per-group rates, fairlearn's functions under the names the report shows
GROUP_METRICS = {
    "selection rate": selection_rate,
    "TPR": true_positive_rate,
    "FPR": false_positive_rate,
    "count": count,
}


def _mean_prediction(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(y_pred))


#: by task: what the per-group section is called and the ``MetricFrame`` metrics it shows
GROUP_SECTIONS = {
    "classification": ("rates", GROUP_METRICS),
    "regression": (
        "mean prediction and MAE",
        {"mean prediction": _mean_prediction, "MAE": mean_absolute_error, "count": count},
    ),
}
_PACKAGES = ("fairmine", "torch", "scikit-learn", "skorch", "fairlearn", "numpy", "pandas")
_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:.2em .5em}"
    "img{max-width:100%}code{background:#f4f4f4}"
)


def environment() -> dict[str, str]:
    """Versions, torch threads and hardware of this process, for a report or a results file.

    Returns
    -------
    dict of str
        Package versions, ``python``, ``torch threads``, ``cpu`` and ``gpu``.

    Examples
    --------
    >>> from fairmine.experiments._sweep_report import environment
    >>> sorted(environment())[:3]
    ['cpu', 'fairlearn', 'fairmine']
    """
    versions = {name: metadata.version(name) for name in _PACKAGES}
    versions["torch"] = torch.__version__  # with its build (+cpu, +cu130)
    return {
        **versions,
        "python": platform.python_version(),
        "torch threads": str(torch.get_num_threads()),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical cores",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if "model name" in line)
    except (OSError, StopIteration):  # not Linux
        return platform.processor() or platform.machine()


def choose_setting(summary: pd.DataFrame, metric: str) -> pd.Series:
    """Pick the setting whose groups the report shows: the fairest front setting that learned.

    Among the settings on the front (``summary["front"]``) none of whose fits
    was degenerate (no better than a constant), the one with the lowest
    ``metric``; ERM when there is none.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`fairmine.experiments.summarise_sweep`.
    metric : str
        The disparity that decided the front.

    Returns
    -------
    pandas.Series
        The chosen row of ``summary``.
    """
    candidates = summary[summary["front"] & (summary["degenerate"] == 0)]
    if candidates.empty:
        candidates = summary[summary["criterion"] == "ERM"]
    return candidates.loc[candidates[metric].idxmin()]


def _refit(
    table: SweepTable, grid: SweepGrid, setting: pd.Series, threads: int | None
) -> tuple[MetricFrame, dict[str, float], int]:
    """Fit ``setting`` with the first seed on the first fold; rates and MI on its test rows."""
    train, test = grid.splits(table.y, TASKS[table.task].stratified)[0]
    with torch_threads(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", FairmineWarning)  # the summary counts degenerate fits
        model, _, X_test = fit_setting(
            table, train, test, setting["criterion"], setting["mi_weight"], grid.seeds[0],
            grid.estimator_params,
        )  # fmt: skip
        y_test, c_test = table.y[test], table.groups[test]
        frame = MetricFrame(
            metrics=GROUP_SECTIONS[table.task][1],
            y_true=y_test,
            y_pred=model.predict(X_test),
            sensitive_features=pd.Series(c_test, name="group"),
        )
        return frame, mi_figures(model, X_test, y_test, c_test), len(test)


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(png: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def _figures(
    summary: pd.DataFrame,
    frame: MetricFrame,
    metric: str,
    score: str,
    note: str | None,
) -> tuple[str, str]:
    """Draw the fronts and the per-group rates as ``<img>`` tags (notes without matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        note = "<p>(matplotlib is not installed: no figure.)</p>"
        return note, note
    matplotlib.use("Agg")
    from ..plotting import plot_group_metrics

    fronts = _png(_fronts_figure(summary, metric, score, note))
    rates = frame.by_group.drop(columns="count")
    names = list(rates.columns)
    groups = _png(plot_group_metrics(rates, show_overall=False).figure)
    return (
        _image(fronts, f"{score} against each disparity, the fronts ringed"),
        _image(groups, f"{', '.join(names[:-1])} and {names[-1]} per group"),
    )


def _markdown_to_html(markdown: str) -> str:
    """Turn :func:`markdown_table`'s output into an HTML table, so both show the same cells."""
    rows = [line.strip("|").split(" | ") for line in markdown.splitlines()]
    head, body = rows[0], rows[2:]

    def cells(tag: str, row: list[str]) -> str:
        return "".join(f"<{tag}>{html.escape(c.strip().strip('*'))}</{tag}>" for c in row)

    lines = [f"<tr>{cells('th', head)}</tr>", *(f"<tr>{cells('td', r)}</tr>" for r in body)]
    return "<table>\n" + "\n".join(lines) + "\n</table>"


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}">\n<h2>{html.escape(title)}</h2>\n{body}\n</section>'


def write_sweep_report(
    summary: pd.DataFrame,
    table: SweepTable,
    grid: SweepGrid,
    out: str | os.PathLike,
    *,
    metric: str,
    header: str,
    command: str,
    threads: int | None = None,
    score: str = "accuracy",
    note: str | None = None,
) -> Path:
    """Write ``report.html`` of a finished sweep into ``out``.

    The per-group rates and the chosen setting's audit come from one more fit
    of the setting that :func:`choose_setting` picks, with the grid's first
    seed on its first fold, scored on that fold's test rows.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`fairmine.experiments.summarise_sweep`.
    table : SweepTable
        The data the sweep ran on.
    grid : SweepGrid
        The sweep's settings, seeds and folds.
    out : path-like
        Folder to write into (made when missing).
    metric : str
        The disparity that decided the front.
    header : str
        The paragraph that describes the sweep.
    command : str
        The command line that ran the sweep.
    threads : int or None, default=None
        Torch threads of the extra fit; None keeps this process's count.
    score : str, default="accuracy"
        The task score that decided the front.
    note : str or None, default=None
        A warning shown first and on the figure, as in ``sweep_summary.md``.

    Returns
    -------
    pathlib.Path
        The report's path.
    """
    setting = choose_setting(summary, metric)
    frame, audit, n_test = _refit(table, grid, setting, threads)
    what = GROUP_SECTIONS[table.task][0]
    fronts, groups = _figures(summary, frame, metric, score, note)
    by_group = frame.by_group.copy()
    by_group["count"] = by_group["count"].astype(int)
    mi = summary[["setting", "audit_mi", "audit_mi_std"]].rename(
        columns={"audit_mi": "audit MI (nats)", "audit_mi_std": "std"}
    )
    chosen = html.escape(setting["setting"])
    warning = "".join(
        f"<p><strong>Warning.</strong> {html.escape(text)}</p>\n"
        for text in (*table.notes, *([note] if note else []))
    )
    environment_rows = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **environment(),
    }
    sections = [
        _section(
            "summary",
            "Summary",
            f"{warning}<p>{html.escape(header)}</p>\n"
            f"{_markdown_to_html(markdown_table(summary, metric, score))}",
        ),
        _section("fronts", "Fronts", fronts),
        _section(
            "groups",
            f"Per-group {what} of {setting['setting']}",
            f"<p>The setting on the {html.escape(metric)} front with the lowest "
            f"{html.escape(metric)} among those whose fits all learned more than a constant, "
            f"refitted with seed {grid.seeds[0]} on fold 0 and scored on its {n_test} test "
            "rows (fairlearn's MetricFrame).</p>\n"
            f"{by_group.to_html(float_format=lambda v: f'{v:.3f}')}\n{groups}",
        ),
        _section(
            "mi",
            "MI a fresh critic finds",
            "<p>estimate_mi of a fresh critic on each test fold's z, under each setting's "
            "criterion (ERM: I(Z;C)), mean and std over the fits; negative values are the "
            f"bound's noise around 0. The refit of {chosen}: audit MI "
            f"{audit.get('audit_mi', np.nan):.3f} nats, training critic "
            f"{audit.get('train_mi', np.nan):.3f} nats.</p>\n"
            f"{mi.to_html(index=False, float_format=lambda v: f'{v:.3f}')}",
        ),
        _section(
            "provenance",
            "Command and versions",
            pd.Series(environment_rows, name="value").to_frame().to_html(),
        ),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>fairmine sweep</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        "<h1>fairmine sweep</h1>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )
    path = Path(out) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, page)  # whole, or the earlier report is left as it was
