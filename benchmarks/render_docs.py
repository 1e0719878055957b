"""Write the README's headline tables and the docs' figures from ``benchmarks/results/``.

    python benchmarks/render_docs.py [--check]

Each README table sits between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` and is
rebuilt from the rows and columns that :data:`TABLES` picks out of one results file; each figure
of :data:`FIGURES` is copied into ``docs/img``. (The docs' results page includes whole results
files with ``pymdownx.snippets`` instead.) With ``--check`` nothing is written, and the exit
status is 1 if anything differs (``tests/test_results_tables.py`` runs the same check). A new
headline table is one more entry in :data:`TABLES` and one pair of markers in the README.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from _provenance import strip_header

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
    "sweep_german_fronts.png": "sweep_german/sweep_fronts.png",
    "representations_fronts_logreg.png": "representations_fronts_logreg.png",
    "representations_fronts_hgb.png": "representations_fronts_hgb.png",
    "representations_fronts_mlp.png": "representations_fronts_mlp.png",
}

#: a cell: "mean +- std" (a negative mean may follow its neighbour after one space) or a word run
_CELL = re.compile(r"-?\d+(?:\.\d+)? \+- \d+(?:\.\d+)?|\S+(?: \S+)*")
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
    rows : tuple of str
        The first cells (model names) of the rows to show, in this order.
    columns : tuple of str
        The header cells of the columns to show after the first.
    first : str, default="model"
        The header cell that starts the table in the file.
    """

    file: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    first: str = "model"


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
        "colored_mnist.txt",
        rows=("ERM (measured)", "fairmine (measured)", "Ragonesi et al., 60k"),
        columns=("variance 0.020", "variance 0.030"),
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
        line; a right-aligned cell belongs to the first column that ends at or after it.
    """
    lines = strip_header(text).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{first} "))
    header = list(_CELL.finditer(lines[start]))
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = list(_CELL.finditer(line))
        if not cells or set(line.strip()) <= {"-"}:
            continue
        row, column = {}, 1
        for cell in cells[1:]:
            while column < len(header) and header[column].end() < cell.end() - 1:
                column += 1
            if column < len(header):
                row[header[column].group()] = cell.group()
                column += 1
        rows[cells[0].group()] = row
    return rows


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
    cells = parse_table((results / table.file).read_text(), table.first)
    missing = [row for row in table.rows if row not in cells]
    if missing:
        raise ValueError(f"{table.file} has no row {missing}")
    lines = [
        "| " + " | ".join([table.first, *table.columns]) + " |",
        "|---" * (len(table.columns) + 1) + "|",
    ]
    for row in table.rows:
        values = [cells[row].get(column, "").replace("+-", "±") for column in table.columns]
        lines.append("| " + " | ".join([row, *values]) + " |")
    lines.append("")
    lines.append(f"From [`benchmarks/results/{table.file}`](benchmarks/results/{table.file}).")
    return "\n".join(lines) + "\n"


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
