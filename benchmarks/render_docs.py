"""Write the README's headline tables and the docs' figures from ``benchmarks/results/``.

    python benchmarks/render_docs.py [--check]

Each README table sits between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` and is
rebuilt from the rows and columns that `TABLES` picks out of one results file; each figure
of `FIGURES` is copied into ``docs/img``. With ``--check`` nothing is written, and the exit
status is 1 if anything differs (``tests/test_results_tables.py`` runs the same check). A new
headline table is one more entry in `TABLES` and one pair of markers in the README.

The docs include results files by name (``--8<-- "NAME"``); `render_include`, which the docs'
hook (``benchmarks/docs_hook.py``) calls while the site builds, turns each include into what fits
the page: the table of `DOC_TABLES` (the columns that matter, short headings) with the whole
file folded below it, or for a narrow file the file itself, its provenance header folded and its
long prose lines wrapped at `CODE_WIDTH` characters.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from _provenance import HEADER_PREFIX, strip_header

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
DOCS_IMG = ROOT / "docs" / "img"

#: the docs' figures (in docs/img) and the results files they are copies of
FIGURES = {
    "colored_mnist_ablation_penalties.png": "colored_mnist_ablation_penalties.png",
    "fairness_criteria_adult.png": "fairness_criteria_adult.png",
    "fairness_criteria_german.png": "fairness_criteria_german.png",
    "penalties_adult.png": "penalties_adult.png",
    "penalties_adult_clip-none.png": "penalties_adult_clip-none.png",
    "penalties_german.png": "penalties_german.png",
    "penalties_german_clip-none.png": "penalties_german_clip-none.png",
    "regression_communities.png": "regression_communities.png",
    "sweep_german_fronts.png": "sweep_german/sweep_fronts.png",
    "representations_fronts_logreg.png": "representations_fronts_logreg.png",
    "representations_fronts_hgb.png": "representations_fronts_hgb.png",
    "representations_fronts_mlp.png": "representations_fronts_mlp.png",
}

#: a cell: "mean +- std" (a negative mean may follow its neighbour after one space; the std may
#: follow "+-" after no space or several) or a word run
_CELL = re.compile(r"-?\d+(?:\.\d+)? \+- *\d+(?:\.\d+)?|\S+(?: \S+)*")
_BLOCK = re.compile(
    r"(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.S
)


@dataclass(frozen=True)
class Table:
    """Rows and columns of one results file's table, shown as a Markdown table.

    Parameters
    ----------
    file : str
        The results file, relative to ``benchmarks/results``.
    rows : tuple of str, default=()
        The first cells (model names) of the rows to show, in this order; () shows every row.
    columns : tuple of str, default=()
        The header cells of the columns to show after the first; () shows every column.
    first : str, default="model"
        The header cell that starts the table in the file.
    labels : tuple of (str, str), default=()
        Shorter headings: ``(header cell, heading)`` pairs.
    pattern : str, default=""
        For a table whose header does not line up with its cells: a regular expression that
        matches each row, one named group per column, the first group the row's name.
    """

    file: str
    rows: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    first: str = "model"
    labels: tuple[tuple[str, str], ...] = ()
    pattern: str = ""


#: the colour variances of the paper's Table 1, as the colored MNIST files head their columns
_TABLE1_VARIANCES = ("0.020", "0.025", "0.030", "0.035", "0.040", "0.045", "0.050")

#: the README's headline tables, by marker name
TABLES = {
    "german": Table(
        "reproduce_german.txt",
        rows=(
            "ERM (measured)",
            "fairmine (measured)",
            "FERM (paper)",
            "NN (paper)",
            "Ragonesi et al. (paper)",
        ),
        columns=("accuracy", "EO"),
    ),
    "adult": Table(
        "fairness_criteria_adult_20runs.txt",
        rows=(
            "ERM MLP",
            "ExpGrad TPR",
            "ThresholdOpt TPR",
            "fairmine EO w=3",
            "fairmine EOdds w=1",
            "fairmine DP w=5",
        ),
        columns=("accuracy", "EO", "EOdds", "DP", "attr. at predict"),
    ),
    "colored-mnist": Table(
        "colored_mnist_60k.txt",
        rows=(
            "ERM (measured)",
            "fairmine (measured)",
            "ERM, grey digits (measured)",
            "ERM (paper), 60k",
            "LNL (Kim et al.), 60k",
            "Ragonesi et al., 60k",
            "ERM audit MI (nats)",
            "fairmine audit MI (nats)",
            "fairmine fit s",
        ),
        columns=tuple(f"variance {v}" for v in _TABLE1_VARIANCES),
        labels=tuple((f"variance {v}", f"variance {v[1:]}") for v in _TABLE1_VARIANCES),
    ),
}


def parse_table(text: str, first: str = "model") -> dict[str, dict[str, str]]:
    """Cells of the fixed-width table in a results file, by row name and column.

    Parameters
    ----------
    text : str
        A results file's text (its provenance header is skipped).
    first : str, default="model"
        The header cell that starts the table's header line.

    Returns
    -------
    dict
        ``{row name: {column: cell}}`` for every row below the header up to the first blank
        line (rules and one-cell notes left out); a cell belongs to the column
        (`table_columns`) whose right edge is nearest its own, left to right.
    """
    return dict(table_rows(text, first))


def table_rows(text: str, first: str = "model") -> list[tuple[str, dict[str, str]]]:
    """The rows of :func:`parse_table` as a list, in file order (a name may come back)."""
    header, lines = _table_lines(text, first)
    columns = _columns(header, lines)
    rows = []
    for cells in lines:
        row, column = {}, 0
        for cell in cells[1:]:
            if column >= len(columns):
                break
            # the nearest right edge, as far as the cells left to place leave room
            last = len(columns) - (len(cells) - 1 - len(row))
            reach = range(column, max(column, last) + 1)
            column = min(reach, key=lambda c: abs(columns[c][1] - cell.end()))
            row[columns[column][0]] = cell.group()
            column += 1
        rows.append((cells[0].group(), row))
    return rows


def table_columns(text: str, first: str = "model") -> list[str]:
    """The names of the columns that :func:`parse_table` reads, in order, the first left out.

    A header cell is a column; one that stands over two right-aligned cells of a row (``train
    coll.`` over ``0.990   0/3``) is a column per word. A name that comes back is numbered:
    ``MI z``, then ``MI z (2)``.
    """
    header, lines = _table_lines(text, first)
    return [name for name, _ in _columns(header, lines)]


def _table_lines(text: str, first: str) -> tuple[list[re.Match[str]], list[list[re.Match[str]]]]:
    """The header cells of the table that starts with ``first``, and its rows' cells."""
    lines = strip_header(text).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{first} "))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = list(_CELL.finditer(line))
        if len(cells) >= 2 and not set(line.strip()) <= {"-"}:
            rows.append(cells)
    return list(_CELL.finditer(lines[start]))[1:], rows


def _columns(header: list[re.Match[str]], rows: list[list[re.Match[str]]]) -> list[tuple[str, int]]:
    """``(name, right edge)`` of each column: a header cell, or its words where cells share it."""
    shared = set()
    for cells in rows:
        under = [next((h for h, c in enumerate(header) if c.end() >= cell.end() - 1), None)
                 for cell in cells[1:]]  # fmt: skip
        shared |= {a for a, b in itertools.pairwise(under) if a is not None and a == b}
    columns = []
    for h, cell in enumerate(header):
        if h in shared:
            columns += [
                (w.group(), cell.start() + w.end()) for w in re.finditer(r"\S+", cell.group())
            ]
        else:
            columns.append((cell.group(), cell.end()))
    seen: dict[str, int] = {}
    named = []
    for name, end in columns:
        seen[name] = seen.get(name, 0) + 1
        named.append((name if seen[name] == 1 else f"{name} ({seen[name]})", end))
    return named


def render(table: Table, results: Path = RESULTS) -> str:
    """The Markdown table that ``table`` picks from its results file.

    Parameters
    ----------
    table : Table
        What to show.
    results : pathlib.Path, default=benchmarks/results
        The folder of results files.

    Returns
    -------
    str
        A Markdown table, then a line naming its source file.
    """
    lines = markdown_table(table, results)
    lines.append("")
    lines.append(f"From [`benchmarks/results/{table.file}`](benchmarks/results/{table.file}).")
    return "\n".join(lines) + "\n"


def markdown_table(table: Table, results: Path = RESULTS) -> list[str]:
    """The lines of the Markdown table that ``table`` picks from its results file.

    Raises
    ------
    ValueError
        When the file lacks a row or a column that ``table`` names.
    """
    text = (results / table.file).read_text()
    every = _pattern_rows(text, table) if table.pattern else table_rows(text, table.first)
    cells = dict(every)
    missing = [row for row in table.rows if row not in cells]
    if missing:
        raise ValueError(f"{table.file} has no row {missing}")
    rows = [(row, cells[row]) for row in table.rows] if table.rows else every
    known = list(re.compile(table.pattern).groupindex)[1:] if table.pattern else None
    known = known or table_columns(text, table.first)
    columns = table.columns or tuple(known)
    absent = [column for column in columns if column not in known]
    if absent:
        raise ValueError(f"{table.file} has no column {absent}; its columns are {known}")
    labels = dict(table.labels)
    headings = [table.first, *(labels.get(column, column) for column in columns)]
    lines = ["| " + " | ".join(headings) + " |", "|---" * len(headings) + "|"]
    for name, row in rows:
        values = [re.sub(r"\+- *", "± ", row.get(column, "")) for column in columns]
        lines.append("| " + " | ".join(_escape_cell(c) for c in [name, *values]) + " |")
    return lines


def _pattern_rows(text: str, table: Table) -> list[tuple[str, dict[str, str]]]:
    """The rows below the header that ``table.pattern`` matches, cells by group name."""
    lines = strip_header(text).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{table.first} "))
    pattern = re.compile(table.pattern)
    name = next(iter(pattern.groupindex))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        match = pattern.fullmatch(line.rstrip())
        if match is None:
            raise ValueError(f"{table.file}: a row does not match its pattern: {line!r}")
        cells = {k: v for k, v in match.groupdict().items() if k != name and v is not None}
        rows.append((match[name], cells))
    return rows


def _escape_cell(text: str) -> str:
    return text.replace("|", "\\|")


#: the widest line that a code block of the docs' content column shows without scrolling
CODE_WIDTH = 80

#: the tables the docs show of the results files too wide for a code block: the columns the
#: text discusses, under short headings (the whole file is folded below each)
DOC_TABLES = {
    "reproduce_german.txt": Table("reproduce_german.txt"),
    **{
        name: Table(
            name,
            columns=("accuracy", "EO", "EOdds", "DP", *mi, "fit s", "attr. at predict"),
            labels=(("MI(z;C)", "MI z;C"),),
        )
        for name, mi in (
            ("fairness_criteria_adult.txt", ("MI(z;C)",)),
            ("fairness_criteria_adult_20runs.txt", ("MI(z;C)",)),
            ("fairness_criteria_adult_classifier_critic.txt", ("MI(z;C)",)),
            ("fairness_criteria_german.txt", ()),
            ("fairness_criteria_german_classifier_critic.txt", ()),
        )
    },
    "german_peers.txt": Table("german_peers.txt"),
    "colored_mnist_60k.txt": Table(
        "colored_mnist_60k.txt",
        columns=tuple(f"variance {v}" for v in _TABLE1_VARIANCES),
        labels=tuple((f"variance {v}", v[1:]) for v in _TABLE1_VARIANCES),
    ),
    **{
        name: Table(
            name,
            first="setting",
            columns=(
                "var 0.020: unbiased acc",
                "MI z",
                "coll.",
                "var 0.030: unbiased acc",
                "MI z (2)",
                "coll. (2)",
            ),
            labels=(
                ("var 0.020: unbiased acc", "acc. .020"),
                ("MI z", "MI z .020"),
                ("coll.", "coll. .020"),
                ("var 0.030: unbiased acc", "acc. .030"),
                ("MI z (2)", "MI z .030"),
                ("coll. (2)", "coll. .030"),
            ),
        )
        for name in ("colored_mnist_ablation.txt", "colored_mnist_ablation_60k.txt")
    },
    **{
        name: Table(
            name,
            first="penalty",
            columns=("weight", "accuracy", "DP", "MI", "collapsed", "degenerate", "fit s"),
            labels=(("MI", "fresh MI"), ("degenerate", "degen.")),
        )
        for name in (
            "penalties_german.txt",
            "penalties_adult.txt",
            "penalties_german_clip-none.txt",
            "penalties_adult_clip-none.txt",
        )
    },
    **{
        name: Table(
            name,
            first="penalty",
            pattern=(
                r"(?P<penalty>\S+) +(?P<clip>\S+) +(?P<german>[\d.]+ s \(\S+\)) +(?P<gcpu>\S+)"
                r" +(?P<digits>[\d.]+ s \(\S+\)|not supported)(?: +(?P<dcpu>\S+))?"
            ),
            labels=(
                ("clip", "clip_mi_gradient"),
                ("german", "German: wall (x ERM)"),
                ("gcpu", "CPU x ERM"),
                ("digits", "digits: wall (x ERM)"),
                ("dcpu", "CPU x ERM"),
            ),
        )
        for name in ("penalty_cost.txt", "penalty_cost_2threads.txt")
    },
    "regression_communities.txt": Table(
        "regression_communities.txt",
        columns=("R2", "gap", "KS", "MAE gap", "worst MAE", "fit s"),
        labels=(("R2", "R²"),),
    ),
    "sweep_german/sweep_summary.md": Table(
        "sweep_german/sweep_summary.md",
        first="setting",
        columns=("accuracy", "EO", "DP", "audit MI (nats)", "fit s", "degenerate", "front"),
        labels=(("audit MI (nats)", "MI"),),
    ),
    "sweep_communities/sweep_summary.md": Table(
        "sweep_communities/sweep_summary.md",
        first="setting",
        columns=("R²", "mean gap", "KS", "worst MAE", "audit MI (nats)", "degenerate", "front"),
        labels=(("audit MI (nats)", "MI"),),
    ),
}


def render_include(name: str, results: Path = RESULTS) -> str:
    """The Markdown that the docs show for an include of the results file ``name``.

    A file of `DOC_TABLES` is shown as that table, with the whole file folded below it; any
    other as a code block of its text, its provenance header folded above it and its prose
    lines wrapped at `CODE_WIDTH` characters (table rows are left whole).

    Parameters
    ----------
    name : str
        The file, relative to ``benchmarks/results``.
    results : pathlib.Path, default=benchmarks/results
        The folder of results files.

    Returns
    -------
    str
        Markdown, ending in a blank line.
    """
    text = (results / name).read_text()
    source = f"`benchmarks/results/{name}`"
    if name.endswith(".md"):
        return _render_markdown_file(name, text, source)
    header = _header_lines(text)
    command = next((line.split(": ", 1)[1] for line in header if line.startswith("# command")), "")
    if name in DOC_TABLES:
        return "\n".join([
            '<div class="results" markdown>', "", *markdown_table(DOC_TABLES[name], results), "",
            "</div>", "",
            f"From {source} (`{command}`), its main columns; the whole file, with its notes "
            "and provenance, is folded below.", "",
            f'??? note "The whole file: {name}"', "",
            *_indented_code(_wrapped(text.splitlines())), "",
        ])  # fmt: skip
    body = strip_header(text).splitlines()
    return "\n".join([
        f'??? info "How {name} was made: its provenance header"', "",
        *_indented_code(_wrapped(header)), "",
        '<div class="results" markdown>', "", "```text", *_wrapped(body), "```", "", "</div>", "",
    ])  # fmt: skip


def _header_lines(text: str) -> list[str]:
    lines = text.splitlines()
    end = next(
        (i for i, line in enumerate(lines) if not line.startswith(HEADER_PREFIX)), len(lines)
    )
    return lines[:end]


def _indented_code(lines: list[str]) -> list[str]:
    return ["    ```text", *(f"    {line}" if line else "" for line in lines), "    ```"]


def _wrapped(lines: list[str]) -> list[str]:
    """Wrap prose lines at `CODE_WIDTH`; keep table rows (cells two spaces apart) whole."""
    out = []
    for line in lines:
        row = re.search(r"\S {2,}\S.* {2,}\S", line) and not line.startswith(HEADER_PREFIX)
        if len(line) <= CODE_WIDTH or row:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        more = "#   " if line.startswith(HEADER_PREFIX) else indent + "  "
        out += textwrap.wrap(line, CODE_WIDTH, initial_indent="", subsequent_indent=more,
                             break_on_hyphens=False)  # fmt: skip
    return out


def _render_markdown_file(name: str, text: str, source: str) -> str:
    """A Markdown results file (a sweep's summary): its text, its table cut to `DOC_TABLES`'s."""
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("|")]
    prose = [line for line in lines if not line.startswith("|")]
    spec = DOC_TABLES.get(name)
    if spec is None or not table:
        return text
    headings = [cell.strip() for cell in table[0].strip("|").split("|")]
    # a heading that starts with a column's name is that column ("front (accuracy, eo)")
    index = {}
    for column in (spec.first, *spec.columns):
        found = [i for i, h in enumerate(headings) if h == column or h.startswith(f"{column} (")]
        if not found:
            raise ValueError(f"{name} has no column {column!r}; its columns are {headings}")
        index[column] = found[0]
    labels = dict(spec.labels)
    shown = [labels.get(c, c) for c in (spec.first, *spec.columns)]
    rows = ["| " + " | ".join(shown) + " |", "|---" * len(shown) + "|"]
    for line in table[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append("| " + " | ".join(cells[index[c]] for c in (spec.first, *spec.columns)) + " |")
    return "\n".join([
        *prose, "", '<div class="results" markdown>', "", *rows, "", "</div>", "",
        f"From {source}, its main columns; the whole table is folded below.", "",
        '??? note "The whole table"', "", *(f"    {line}" for line in table), "",
    ])  # fmt: skip


def rendered_readme(readme: str, results: Path = RESULTS) -> str:
    """``readme`` with every marked table rebuilt from its results file.

    Parameters
    ----------
    readme : str
        The README's text.
    results : pathlib.Path, default=benchmarks/results
        The folder of results files.

    Returns
    -------
    str
        The README as :func:`main` writes it.
    """
    names = [m.group("name") for m in _BLOCK.finditer(readme)]
    unknown = sorted(set(names) - set(TABLES))
    if unknown:
        raise ValueError(f"README.md marks tables {unknown} that TABLES does not define")
    return _BLOCK.sub(
        lambda m: m.group(1) + render(TABLES[m.group("name")], results) + m.group(4), readme
    )


def stale_figures(results: Path = RESULTS, docs_img: Path = DOCS_IMG) -> list[str]:
    """The figures of :data:`FIGURES` whose copy in ``docs_img`` differs from the results file.

    Parameters
    ----------
    results : pathlib.Path, default=benchmarks/results
        The folder of results files.
    docs_img : pathlib.Path, default=docs/img
        The docs' figure folder.

    Returns
    -------
    list of str
        Names in ``docs_img``.
    """
    return [
        name
        for name, source in FIGURES.items()
        if not (docs_img / name).is_file()
        or (docs_img / name).read_bytes() != (results / source).read_bytes()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether all is current")
    args = parser.parse_args()
    current = README.read_text()
    wanted = rendered_readme(current)
    stale = stale_figures()
    if args.check:
        if wanted != current:
            print("README.md's tables differ from benchmarks/results")
        if stale:
            print(f"docs/img/{stale} differ from benchmarks/results")
        return int(wanted != current or bool(stale))
    README.write_text(wanted)
    for name in stale:
        shutil.copyfile(RESULTS / FIGURES[name], DOCS_IMG / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
