"""The sweep's report: one self-contained HTML page to open offline in any browser.

``report.html`` opens with the setting it recommends (the rule, its score and disparity against
ERM's, the trade-off in words, and how to refit it), then the summary table (degenerate settings
greyed, the front marked), the fronts, the per-group figures of the recommended setting beside
ERM's (mean and std over its fits), the MI a fresh critic finds, and the command, commit and
versions that made it. Figures are embedded as base64 PNG, so the file needs nothing beside it.
Every text that comes from the user (file, column and group names, the command) is escaped.
"""

from __future__ import annotations

import base64
import datetime
import functools
import html
import io
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._output import write_atomically
from ._sweep import (
    TASKS,
    SweepGrid,
    SweepTable,
    _degenerate_settings,
    _fronts_figure,
    _mean_std,
    task_of,
)

__all__ = ["REPORT_SECTIONS", "choose_setting", "environment", "write_sweep_report"]

#: the ``id`` of each section of the report, in order
REPORT_SECTIONS = ("recommendation", "summary", "fronts", "groups", "mi", "provenance")
_PACKAGES = ("fairmine", "torch", "scikit-learn", "skorch", "fairlearn", "numpy", "pandas")
_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.4}"
    "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:.2em .5em}"
    "td.n{text-align:right;white-space:nowrap}th{background:#f4f4f4}"
    "img{max-width:100%}code{background:#f4f4f4;padding:0 .2em}"
    "tr.degenerate td{color:#999}tr.recommended td{background:#fff7d6}"
    "td.front{font-weight:bold;color:#b00020;white-space:nowrap}"
    "p.recommendation{font-size:115%;border-left:4px solid #b00020;padding-left:.7em}"
)


def environment() -> dict[str, str]:
    """Versions, torch threads and hardware of this process, for a report or a results file.

    Returns
    -------
    dict of str
        Package versions, ``fairmine git`` (the commit of a git checkout, "with uncommitted
        changes" when its tracked files differ from it), ``python``, ``torch threads``,
        ``cpu`` and ``gpu``.

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
        "fairmine git": git_commit(),
        "python": platform.python_version(),
        "torch threads": str(torch.get_num_threads()),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical cores",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


@functools.cache
def git_commit(path: str | os.PathLike | None = None) -> str:
    """Return the short commit of the git checkout holding ``path`` (by default fairmine's).

    Read once per process: a run that calls it as it starts (``fairmine sweep`` does) records
    the commit whose code it imported, whatever happens to the checkout while it runs.

    Returns
    -------
    str
        ``"abc1234"``, ``"abc1234 with uncommitted changes"`` when tracked files differ from
        the commit, or ``"not a git checkout"`` (an installed wheel, or no git).
    """
    where = Path(__file__).parent if path is None else Path(path)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"{commit} with uncommitted changes" if changed else commit


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
        Output of [`summarise_sweep`][fairmine.experiments.summarise_sweep].
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


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(png: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def group_table(runs: pd.DataFrame, table: SweepTable, settings: list[str]) -> pd.DataFrame:
    """Each group's figures per setting: mean and std (ddof 0) over the setting's fits.

    Parameters
    ----------
    runs : pandas.DataFrame
        The sweep's rows, with their ``group_metrics`` (JSON per fit).
    table : SweepTable
        The data, which names the groups (`SweepTable.group_name`).
    settings : list of str
        The settings to show, by name (``"ERM"``, ``"equal_opportunity w=3"``).

    Returns
    -------
    pandas.DataFrame
        One row per (group, setting), in the groups' order: ``group``, ``setting``, ``fits``,
        then ``<figure>`` and ``<figure>_std`` for each figure (``count``: test rows per fit).
        Empty when the rows hold no per-group figures (a sweep of an earlier version).
    """
    if "group_metrics" not in runs or runs["group_metrics"].isna().all():
        return pd.DataFrame()
    names = runs.apply(lambda r: _setting_name(r["criterion"], r["mi_weight"]), axis=1)
    records = []
    for setting in settings:
        for text in runs.loc[names == setting, "group_metrics"].dropna():
            for group, figures in json.loads(text).items():
                records.append({"group": group, "setting": setting, **figures})
    frame = pd.DataFrame(records).astype({"group": str})
    grouped = frame.groupby(["group", "setting"], sort=False)
    figures = [c for c in frame.columns if c not in ("group", "setting")]
    means = grouped[figures].mean()
    result = means.join(grouped[figures].std(ddof=0).add_suffix("_std"))
    result.insert(0, "fits", grouped.size())
    result = result.reset_index()
    order = {g: i for i, g in enumerate(sorted(result["group"].unique()))}
    rank = result["group"].map(order) * len(settings) + result["setting"].map(settings.index)
    result = result.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    result["group"] = result["group"].map(table.group_name)
    return result


def _setting_name(criterion: str, mi_weight: float) -> str:
    return "ERM" if criterion == "ERM" else f"{criterion} w={mi_weight:g}"


def _figure_columns(groups: pd.DataFrame) -> list[str]:
    """List the per-group figures of a `group_table`, in order (``count`` last)."""
    return [c for c in groups.columns
            if c not in ("group", "setting", "fits") and not c.endswith("_std")]  # fmt: skip


def _groups_figure(groups: pd.DataFrame, settings: list[str]) -> Any:
    """Draw one panel per figure (count aside): a bar per group and setting, std as error bars."""
    import matplotlib.pyplot as plt

    figures = [c for c in _figure_columns(groups) if c != "count"]
    names = list(dict.fromkeys(groups["group"]))
    figure, axes = plt.subplots(
        1, len(figures), figsize=(2.6 * len(figures) + 0.4, 2.9), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    width = 0.8 / len(settings)
    for panel, name in zip(axes[0], figures, strict=True):
        for s, setting in enumerate(settings):
            rows = groups[groups["setting"] == setting].set_index("group").reindex(names)
            offsets = np.arange(len(names)) - 0.4 + width * (s + 0.5)
            panel.bar(
                offsets, rows[name], width, yerr=rows[f"{name}_std"], capsize=3,
                color="0.55" if setting == "ERM" else "C3", label=setting,
            )  # fmt: skip
        panel.set_xticks(np.arange(len(names)), names, fontsize="small")
        panel.set_title(name)
        panel.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("mean over fits (bar: std)")
    figure.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center",
                  ncols=len(settings), fontsize="small")  # fmt: skip
    return figure


def _figures(
    summary: pd.DataFrame,
    groups: pd.DataFrame,
    settings: list[str],
    metric: str,
    score: str,
    note: str | None,
) -> tuple[str, str]:
    """Draw the fronts and the per-group figures as ``<img>`` tags (notes without matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        note = "<p>(matplotlib is not installed: no figure.)</p>"
        return note, note
    matplotlib.use("Agg")
    fronts = _image(
        _png(_fronts_figure(summary, metric, score, note)),
        f"{score} against each disparity, the fronts ringed",
    )
    if groups.empty:
        return fronts, ""
    return fronts, _image(
        _png(_groups_figure(groups, settings)), f"per-group figures of {', '.join(settings)}"
    )


def _html_table(head: list[str], rows: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """Build a table of escaped text; ``rows`` are ``(row class, [(cell class, text), ...])``."""

    def cell(tag: str, css: str, text: str) -> str:
        attribute = f' class="{css}"' if css else ""
        return f"<{tag}{attribute}>{html.escape(text)}</{tag}>"

    lines = ["<tr>" + "".join(cell("th", "", h) for h in head) + "</tr>"]
    for css, cells in rows:
        attribute = f' class="{css}"' if css else ""
        lines.append(f"<tr{attribute}>" + "".join(cell("td", c, t) for c, t in cells) + "</tr>")
    return "<table>\n" + "\n".join(lines) + "\n</table>"


def _summary_table(summary: pd.DataFrame, recommended: str, metric: str, score: str) -> str:
    """Build the summary: degenerate settings greyed ("k of n"), the front and choice marked."""
    figures = task_of(summary).figures
    degenerate = _degenerate_settings(summary)
    head = ["setting", *figures.values(), "fit s", "degenerate fits",
            f"front ({score}, {metric})"]  # fmt: skip
    rows = []
    for i, row in summary.iterrows():
        front = "★ front" if row["front"] else ""
        if row["setting"] == recommended:
            front = f"{front}, recommended" if front else "recommended"
        cells = [("", row["setting"])]
        cells += [("n", _mean_std(row[f], row[f"{f}_std"])) for f in figures]
        cells += [("n", f"{row['fit_seconds']:.1f}"),
                  ("n", f"{row['degenerate']} of {row['fits']}"), ("front", front)]  # fmt: skip
        marks = {"degenerate": degenerate[i], "recommended": row["setting"] == recommended}
        css = " ".join(name for name, on in marks.items() if on)
        rows.append((css, cells))
    return _html_table(head, rows)


def _groups_table(groups: pd.DataFrame, attribute: str) -> str:
    figures = _figure_columns(groups)
    head = [attribute, "setting", *("test rows per fit" if f == "count" else f for f in figures),
            "fits"]  # fmt: skip
    rows = []
    for _, row in groups.iterrows():
        cells = [("", str(row["group"])), ("", row["setting"])]
        cells += [
            ("n", f"{row[f]:.0f}" if f == "count" else _mean_std(row[f], row[f"{f}_std"]))
            for f in figures
        ]
        rows.append(("", [*cells, ("n", str(row["fits"]))]))
    return _html_table(head, rows)


def recommendation(
    summary: pd.DataFrame, table: SweepTable, grid: SweepGrid, metric: str, score: str
) -> tuple[str, str]:
    """Say which setting the report recommends, and give the code that refits it.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of [`summarise_sweep`][fairmine.experiments.summarise_sweep].
    table : SweepTable
        The data (it names the attribute and the estimator).
    grid : SweepGrid
        The sweep's settings (their ``estimator_params`` go into the refit).
    metric, score : str
        The disparity and the task score that decided the front.

    Returns
    -------
    (str, str)
        The recommendation in words (plain text) and the Python that refits it.
    """
    task = TASKS[table.task]
    chosen = choose_setting(summary, metric)
    erm = summary[summary["criterion"] == "ERM"].iloc[0]
    score_name, metric_name = task.scores[score], task.figures.get(metric, metric)
    rule = (
        f"the rule: of the settings on the {score_name}-{metric_name} front none of whose fits "
        f"was degenerate, the one with the lowest {metric_name}"
    )
    figures = (
        f"{score_name} {_mean_std(chosen[score], chosen[f'{score}_std'])} and {metric_name} "
        f"{_mean_std(chosen[metric], chosen[f'{metric}_std'])}"
    )
    if chosen["criterion"] == "ERM" and _degenerate_settings(summary).all():
        words = (
            "No setting to recommend: every setting of this sweep, ERM's too, is degenerate "
            f"(no better than a constant in half or more of its fits). ERM scores {figures}. "
            "Train longer (--max-epochs), and see the warning below."
        )
    elif chosen["criterion"] == "ERM":
        words = (
            f"Recommended: ERM (mi_weight=0), by {rule}: no fairmine setting of this sweep is on "
            f"that front without being degenerate. ERM scores {figures}. Try smaller lambdas "
            "(--weights) or more epochs (--max-epochs)."
        )
    else:
        gained = erm[metric] - chosen[metric]
        cost = erm[score] - chosen[score]
        trade = (
            f"{'lowers' if gained >= 0 else 'raises'} the {metric_name} by {abs(gained):.3f} "
            + (
                f"and {'raises' if cost < 0 else 'keeps'} {score_name}"
                + (f" by {-cost:.3f}" if cost < 0 else "")
                + ": fairer at no cost in "
                + score_name
                if cost <= 0
                else f"for {cost:.3f} less {score_name}"
            )
        )
        words = (
            f"Recommended: {chosen['setting']}, by {rule}. It scores {figures}, against ERM's "
            f"{_mean_std(erm[score], erm[f'{score}_std'])} and "
            f"{_mean_std(erm[metric], erm[f'{metric}_std'])}: it {trade} (means over "
            f"{chosen['fits']} fits; their std says how much of that is the folds' noise)."
        )
    params = {
        "criterion": "demographic_parity" if chosen["criterion"] == "ERM" else chosen["criterion"],
        "mi_weight": float(chosen["mi_weight"]),
        **grid.estimator_params,
    }
    arguments = ", ".join(f"{k}={v!r}" for k, v in params.items())
    code = (
        f"from fairmine import {task.estimator.__name__}\n"
        "from fairmine.experiments import tabular_preprocessor\n\n"
        "prep = tabular_preprocessor().fit(X)  # the sweep's encoding, fitted on your rows\n"
        f"model = {task.estimator.__name__}({arguments})\n"
        f"model.fit(prep.transform(X), y, sensitive_features={table.sensitive}.to_numpy())\n"
    )
    return words, code


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}">\n<h2>{html.escape(title)}</h2>\n{body}\n</section>'


def write_sweep_report(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    table: SweepTable,
    grid: SweepGrid,
    out: str | os.PathLike,
    *,
    metric: str,
    header: str,
    command: str,
    score: str = "accuracy",
    note: str | None = None,
) -> Path:
    """Write ``report.html`` of a finished sweep into ``out``.

    The recommended setting is the one `choose_setting` picks; the
    per-group figures are those each fit recorded on its test fold
    (``group_metrics``), as mean and std over the setting's fits, beside ERM's.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of [`summarise_sweep`][fairmine.experiments.summarise_sweep].
    runs : pandas.DataFrame
        Output of [`run_sweep`][fairmine.experiments.run_sweep].
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
    score : str, default="accuracy"
        The task score that decided the front.
    note : str or None, default=None
        A warning shown first and on the figure, as in ``sweep_summary.md``.

    Returns
    -------
    pathlib.Path
        The report's path.
    """
    task = TASKS[table.task]
    chosen = choose_setting(summary, metric)["setting"]
    settings = ["ERM"] if chosen == "ERM" else ["ERM", chosen]
    groups = group_table(runs, table, settings)
    fronts, group_image = _figures(summary, groups, settings, metric, score, note)
    words, code = recommendation(summary, table, grid, metric, score)
    warning = "".join(
        f"<p><strong>Warning.</strong> {html.escape(text)}</p>\n"
        for text in (*table.notes, *([note] if note else []))
    )
    if groups.empty:
        group_body = "<p>The fits of this sweep recorded no per-group figures.</p>"
    else:
        fits = int(groups["fits"].max())
        group_body = (
            f"<p>Each group's {html.escape(task.group_title)} on the test folds, mean ± std "
            f"over each setting's {fits} fits (seeds x folds), from fairlearn's MetricFrame; "
            f"groups of {html.escape(table.sensitive)}.</p>\n"
            f"{_groups_table(groups, table.sensitive)}\n{group_image}"
        )
    mi = _html_table(
        ["setting", "audit MI (nats)"],
        [("", [("", r["setting"]), ("n", _mean_std(r["audit_mi"], r["audit_mi_std"]))])
         for _, r in summary.iterrows()],
    )  # fmt: skip
    environment_rows = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **environment(),
    }
    sections = [
        _section(
            "recommendation",
            "What to pick",
            f'<p class="recommendation">{html.escape(words)}</p>\n{warning}'
            f"<p>Refit it on all your rows (X, y and the attribute's column as in the table):</p>\n"
            f"<pre><code>{html.escape(code)}</code></pre>",
        ),
        _section(
            "summary",
            "Summary",
            f"<p>{html.escape(header)}</p>\n"
            "<p>Grey rows: settings half or more of whose fits were degenerate (no better than "
            "a constant), kept off the front. ★ marks the front.</p>\n"
            f"{_summary_table(summary, chosen, metric, score)}",
        ),
        _section("fronts", "Fronts", fronts),
        _section("groups", f"Per-group {task.group_title} of {chosen} beside ERM", group_body),
        _section(
            "mi",
            "MI a fresh critic finds",
            "<p>estimate_mi of a fresh critic on each test fold's z, under each setting's "
            "criterion (ERM: I(Z;C)), mean ± std over the fits; negative values are the "
            "bound's noise around 0.</p>\n" + mi,
        ),
        _section(
            "provenance",
            "Command, commit and versions",
            _html_table(
                ["", "value"], [("", [("", k), ("", v)]) for k, v in environment_rows.items()]
            ),
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
