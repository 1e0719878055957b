"""The README's and the docs' tables and figures are those of the files in benchmarks/results/."""

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)


@pytest.fixture
def render_docs(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import render_docs

    return render_docs


def test_readme_tables_are_rendered_from_the_results_files(render_docs):
    readme = (ROOT / "README.md").read_text()
    assert readme.count("<!-- results:") == len(render_docs.TABLES)
    assert render_docs.rendered_readme(readme) == readme, "run python benchmarks/render_docs.py"


def test_changing_a_results_file_makes_the_readme_stale(render_docs, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    readme = (ROOT / "README.md").read_text()
    assert render_docs.rendered_readme(readme, results) == readme
    german = results / render_docs.TABLES["german"].file
    german.write_text(german.read_text().replace("0.752 +- 0.013", "0.999 +- 0.013"))
    changed = render_docs.rendered_readme(readme, results)
    assert changed != readme
    assert "| 0.999 ± 0.013 |" in changed


def test_a_headline_row_missing_from_its_file_is_an_error(render_docs, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    german = results / render_docs.TABLES["german"].file
    german.write_text(german.read_text().replace("fairmine (measured)", "renamed (measured)"))
    with pytest.raises(ValueError, match="no row"):
        render_docs.rendered_readme((ROOT / "README.md").read_text(), results)


def test_parse_table_reads_cells_by_column(render_docs):
    text = (
        "# command: x\n\nmodel          accuracy          MI\n"
        "a        0.5 +- 0.1  0.2 +- 0.3\n"
        "b        0.6 +- 0.1 -0.2 +- 0.3\n"
        "paper       0.7\n"
    )
    rows = render_docs.parse_table(text)
    assert rows["a"] == {"accuracy": "0.5 +- 0.1", "MI": "0.2 +- 0.3"}
    assert rows["b"]["MI"] == "-0.2 +- 0.3"
    assert rows["paper"] == {"accuracy": "0.7"}


def test_docs_figures_are_copies_of_the_results_figures(render_docs):
    assert render_docs.stale_figures() == []


@pytest.mark.parametrize("name", ["results.md", "guides/representations.md"])
def test_results_pages_take_every_table_from_a_results_file(name):
    page = (ROOT / "docs" / name).read_text()
    included = SNIPPET.findall(page)
    assert included, f"{name} includes no results file"
    for name in included:
        assert (RESULTS / name).is_file(), name
    # no hand-typed tables: code blocks hold one include each, and there are no Markdown tables
    blocks = re.findall(r"^```text\n(.*?)^```", page, re.M | re.S)
    assert blocks and all(SNIPPET.fullmatch(block.strip()) for block in blocks)
    assert not re.search(r"^\|.*\|$", page, re.M)
    # and the prose restates no measured figure (a number with three decimals)
    prose = SNIPPET.sub("", page)
    assert not re.findall(r"\d?\.\d{3}\b", prose)


def test_every_text_results_file_has_a_provenance_header():
    for path in RESULTS.glob("*.txt"):
        header = path.read_text().splitlines()[:2]
        assert header[0].startswith("# command: "), path.name
        assert header[1].startswith(("# date: ", "# provenance: recorded before headers")), (
            path.name
        )


def test_recording_prints_and_writes_under_a_provenance_header(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import _provenance

    out = tmp_path / "table.txt"
    with _provenance.recording(out):
        print("model  accuracy")
    assert capsys.readouterr().out == "model  accuracy\n"
    text = out.read_text()
    keys = [line.split(":", 1)[0] for line in text.splitlines() if line.startswith("# ")]
    assert keys == ["# command", "# date", "# fairmine", "# torch", "# python", "# cpu", "# gpu"]
    assert "git " in text
    assert _provenance.strip_header(text) == "model  accuracy"


def test_a_results_file_gets_the_header_taken_when_its_run_started(monkeypatch, tmp_path):
    """``write_results`` reuses the header that ``provenance_lines()`` took at the start."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import _provenance

    started = _provenance.provenance_lines()
    monkeypatch.setattr(_provenance, "_git", lambda *args: "changed-since-the-start")
    out = _provenance.write_results(tmp_path / "table.txt", "model  accuracy")
    assert out.read_text().splitlines()[: len(started)] == started
