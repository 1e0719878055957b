"""`fairmine sweep` writes report.html: one self-contained page with every section and figure.

It opens with the setting it recommends, greys the degenerate settings, names the groups by
their values and escapes every text that comes from the user (issue 36).
"""

import base64
import re

import html5lib
import numpy as np
import pandas as pd
import pytest
from conftest import brief_mi_audits

from fairmine.cli import main
from fairmine.experiments import SweepGrid, SweepTable
from fairmine.experiments._sweep_report import (
    REPORT_SECTIONS,
    choose_setting,
    git_commit,
    recommendation,
)

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
    assert REPORT_SECTIONS[0] == "recommendation"
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
    # no empty header row: the first header cell names the attribute, each row a group by name
    assert groups[0] == ["young", "setting", "selection rate", "TPR", "FPR", "test rows per fit",
                         "fits"]  # fmt: skip
    assert {row[0] for row in groups[1:]} == {"young", "not young"}
    assert {row[1] for row in groups[1:]} <= set(summary["setting"])
    # each group's figures over every fit of the setting (1 seed x 2 folds), not one refit
    assert all(row[-1] == "2" for row in groups[1:])
    assert all(" ± " in cell for row in groups[1:] for cell in row[2:5])
    rows = {(row[0], row[1]): float(row[5]) for row in groups[1:]}
    assert sum(rows[g, "ERM"] for g in ("young", "not young")) == 150  # the test half
    mi = _table(document, "mi")
    assert [row[0] for row in mi[1:]] == summary["setting"].tolist()
    provenance = dict(row for row in _table(document, "provenance")[1:])
    assert provenance["command"] == f"fairmine {command}"
    for key in ("fairmine", "torch", "scikit-learn", "fairlearn", "torch threads", "cpu", "gpu"):
        assert provenance[key]
    assert provenance["fairmine git"] == git_commit()


@slow
def test_report_opens_with_the_setting_it_recommends_and_how_to_refit_it(report):
    document, out, _ = report
    summary = pd.read_csv(out / "sweep_summary.csv")
    first = document.find(".//h:section", NS)
    assert first.get("id") == "recommendation"
    paragraphs = first.findall(".//h:p", NS)
    assert paragraphs[0].get("class") == "recommendation"  # the first line, before any warning
    words = "".join(paragraphs[0].itertext())
    chosen = choose_setting(summary, "eo")
    # two epochs: every fit of this quick sweep, ERM's included, is no better than a constant
    assert chosen["setting"] == "ERM" and chosen["degenerate"] == chosen["fits"]
    assert words.startswith("No setting to recommend: every setting of this sweep")
    code = "".join(first.find(".//h:pre", NS).itertext())
    assert "MIUnbiasedClassifier(" in code and "sensitive_features=young" in code
    summary_rows = document.findall(".//h:section[@id='summary']//h:tr", NS)
    marked = [r.get("class") or "" for r in summary_rows[1:]]
    assert sum("recommended" in m for m in marked) == 1
    assert len(summary_rows) == len(summary) + 1


def _summary(degenerate, front):
    n = len(degenerate)
    figures = {f: np.linspace(0.7, 0.8, n) for f in ("accuracy", "balanced_accuracy", "roc_auc")}
    figures.update({f: np.linspace(0.2, 0.05, n) for f in ("eo", "eodds", "dp", "audit_mi")})
    frame = pd.DataFrame(
        {"setting": ["ERM", *(f"equal_opportunity w={w}" for w in range(1, n))],
         "criterion": ["ERM", *["equal_opportunity"] * (n - 1)],
         "mi_weight": np.arange(n, dtype=float), **figures}
    )  # fmt: skip
    for f in (*figures,):
        frame[f"{f}_std"] = 0.01
    frame["fit_seconds"], frame["fits"] = 1.0, 6
    frame["degenerate"], frame["front"] = degenerate, front
    return frame


def test_recommendation_states_the_rule_the_trade_off_and_the_refit():
    table = SweepTable(None, np.zeros(4), np.array(["a", "b"] * 2), "", sensitive="region")
    grid = SweepGrid(estimator_params={"max_epochs": 30})
    summary = _summary([0, 0, 6], [False, True, False])
    summary.loc[1, "accuracy"] = 0.69  # fairer, for .010 less accuracy than ERM's .700
    words, code = recommendation(summary, table, grid, "eo", "accuracy")
    assert words.startswith("Recommended: equal_opportunity w=1, by the rule:")
    assert "the lowest EO" in words and "lowers the EO by 0.075 for 0.010 less accuracy" in words
    assert "max_epochs=30" in code and "mi_weight=1.0" in code
    assert "sensitive_features=region" in code
    # the degenerate w=2 is fairer still, but never recommended; without a usable setting: ERM
    words, code = recommendation(_summary([0, 6], [True, False]), table, grid, "eo", "accuracy")
    assert words.startswith("Recommended: ERM (mi_weight=0)") and "mi_weight=0.0" in code
    words, _ = recommendation(_summary([6, 6], [False, False]), table, grid, "eo", "accuracy")
    assert words.startswith("No setting to recommend: every setting of this sweep, ERM's too,")


def _hostile_table(path):
    """A table whose file, column and group names are HTML that a browser would run."""
    rng = np.random.RandomState(0)
    n = 60
    group = rng.choice(["<i>north</i>", "south & <b>east</b>"], n)
    income = rng.normal(50, 10, n) + 8 * (group == "<i>north</i>")
    frame = pd.DataFrame(
        {"income<script>alert(1)</script>": income,
         "region<img src=x onerror=alert(2)>": group,
         "loan": np.where(income + rng.normal(0, 5, n) > 55, "repaid", "default")}
    )  # fmt: skip
    frame.to_csv(path, index=False)


def test_names_from_the_user_are_escaped_in_the_report(tmp_path):
    source = tmp_path / "<img src=x onerror=alert(3)>.csv"
    _hostile_table(source)
    out = tmp_path / "out"
    arguments = ["sweep", str(source), "--target", "loan", "--sensitive",
                 "region<img src=x onerror=alert(2)>", "--out", str(out), "--weights", "2",
                 "--seeds", "1", "--folds", "2", "--max-epochs", "2", "--n-jobs", "1",
                 "--criteria", "equal_opportunity"]  # fmt: skip
    assert main(arguments) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    # the only tags are the report's own
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page))
    assert tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "section", "p",
                    "strong", "table", "tr", "th", "td", "img", "pre", "code"}  # fmt: skip
    document = html5lib.parse(page, namespaceHTMLElements=True)
    images = document.findall(".//h:img", NS)
    assert len(images) == 2  # the two figures, and no other
    assert all(set(i.keys()) == {"alt", "src"} and i.get("src").startswith("data:") for i in images)
    assert "&lt;i&gt;north&lt;/i&gt;" in page and "south &amp; &lt;b&gt;east&lt;/b&gt;" in page
    assert "region&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;img src=x onerror=alert(3)&gt;.csv" in page
    groups = _table(document, "groups")
    assert {row[0] for row in groups[1:]} == {"<i>north</i>", "south & <b>east</b>"}


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
