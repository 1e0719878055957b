"""`fairmine sweep` writes report.html: one self-contained page with every section and figure."""

import base64

import html5lib
import pandas as pd
import pytest
from conftest import brief_mi_audits

from fairmine.cli import main
from fairmine.experiments._sweep_report import REPORT_SECTIONS, choose_setting

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")
slow = pytest.mark.slow  # one quick sweep of 300 German rows, shared by the module

NS = {"h": "http://www.w3.org/1999/xhtml"}
QUICK = ["--weights", "2", "--seeds", "1", "--folds", "2", "--max-epochs", "2", "--n-jobs", "1"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    arguments = ["sweep", "german", "--rows", "300", "--out", str(out), *QUICK]
    with brief_mi_audits():
        assert main(arguments) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    return html5lib.parse(page, namespaceHTMLElements=True), out, " ".join(arguments)


@slow
def test_report_has_every_section_in_order(report):
    document, _, _ = report
    sections = document.findall(".//h:section", NS)
    assert [s.get("id") for s in sections] == list(REPORT_SECTIONS)
    for section in sections:
        assert section.find("h:h2", NS).text


@slow
def test_report_embeds_its_figures_as_png(report):
    document, _, _ = report
    images = {
        section.get("id"): section.findall(".//h:img", NS)
        for section in document.findall(".//h:section", NS)
    }
    assert len(images["fronts"]) == 1 and len(images["groups"]) == 1
    for image in images["fronts"] + images["groups"]:
        prefix, data = image.get("src").split(",", 1)
        assert prefix == "data:image/png;base64"  # nothing to fetch: it opens offline
        assert base64.b64decode(data)[:4] == b"\x89PNG"
        assert image.get("alt")


def _table(document, section_id):
    section = next(s for s in document.findall(".//h:section", NS) if s.get("id") == section_id)
    rows = section.findall(".//h:table//h:tr", NS)
    return [["".join(cell.itertext()).strip() for cell in row] for row in rows]


@slow
def test_report_tables_hold_the_summary_groups_mi_and_command(report):
    document, out, command = report
    summary = pd.read_csv(out / "sweep_summary.csv")
    table = _table(document, "summary")
    assert table[0][:2] == ["setting", "accuracy"]
    assert [row[0] for row in table[1:]] == summary["setting"].tolist()
    groups = _table(document, "groups")
    assert groups[0][1:] == ["selection rate", "TPR", "FPR", "count"]
    counts = [int(row[-1]) for row in groups if row and row[-1].isdigit()]
    assert len(counts) == 2 and sum(counts) == 150  # the two groups of fold 0's test half
    mi = _table(document, "mi")
    assert [row[0] for row in mi[1:]] == summary["setting"].tolist()
    provenance = dict(row for row in _table(document, "provenance")[1:])
    assert provenance["command"] == f"fairmine {command}"
    for key in ("fairmine", "torch", "scikit-learn", "fairlearn", "torch threads", "cpu", "gpu"):
        assert provenance[key]


def test_chosen_setting_is_the_fairest_front_setting_that_learned():
    summary = pd.DataFrame(
        {
            "setting": ["ERM", "a", "b", "c"],
            "criterion": ["ERM", "x", "x", "x"],
            "eo": [0.2, 0.1, 0.0, 0.05],
            "front": [True, True, True, True],
            "degenerate": [0, 0, 3, 0],
        }
    )
    assert choose_setting(summary, "eo")["setting"] == "c"  # b is fairer but degenerate
    summary["front"] = [False, False, True, False]
    assert choose_setting(summary, "eo")["setting"] == "ERM"
