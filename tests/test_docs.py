"""The documentation site builds without warnings and documents every public module."""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PUBLIC_MODULES = [
    "fairmine",
    "fairmine.datasets",
    "fairmine.experiments",
    "fairmine.metrics",
    "fairmine.mi",
    "fairmine.model_selection",
    "fairmine.networks",
    "fairmine.plotting",
    "fairmine.exceptions",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for package in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(package, reason=f"{package} is not installed: pip install -e '.[dev]'")
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    return site_dir


def test_site_builds_strict(site):
    assert (site / "index.html").is_file()
    for page in ("getting-started", "concepts", "results", "guides/choosing-lambda"):
        assert (site / page / "index.html").is_file(), page


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_has_an_api_page(site, module):
    __import__(module)
    names = sys.modules[module].__all__
    page = module.removeprefix("fairmine").removeprefix(".") or "fairmine"
    html = (site / "api" / page / "index.html").read_text(encoding="utf-8")
    documented = set(re.findall(r'id="([\w.]+)"', html))
    # constants documented by comments only are described in the page's text instead
    missing = [
        name
        for name in names
        if name.isidentifier()
        and not name.isupper()
        and not name.startswith("_")
        and f"{module}.{name}" not in documented
    ]
    assert not missing, f"{module}: {missing} have no entry in the API reference"


# ------------------------------------------------- issue 36: the API pages render their markup
#: a Sphinx role, as mkdocstrings leaves it in the page (":class:" before the code or its text)
ROLE = re.compile(r":(?:class|func|data|meth|mod|attr|obj|exc|ref|const):(?:<code>|`)")
#: the first line of a builtin type's docstring, which inspection shows for a constant
BUILTIN_DOCSTRINGS = [
    html.escape(kind.__doc__.strip().splitlines()[0], quote=False)
    for kind in (float, int, str, dict, tuple, list, set, frozenset, bool, bytes, type(None))
    if kind.__doc__
]


def _api_pages(site):
    return {
        page.parent.name: page.read_text(encoding="utf-8")
        for page in (site / "api").glob("*/index.html")
    }


@pytest.mark.parametrize(
    "page", [m.removeprefix("fairmine").removeprefix(".") or "fairmine" for m in PUBLIC_MODULES]
)
def test_api_pages_show_no_sphinx_role_or_raw_reference(site, page):
    text = _api_pages(site)[page]
    roles = ROLE.findall(text)
    references = re.findall(r"\.\. \[\d+\]", text)
    assert not roles, f"api/{page}: {len(roles)} Sphinx roles left, e.g. {roles[:3]}"
    assert not references, f"api/{page}: raw numpy references {references[:3]}"


def test_api_pages_show_no_builtin_docstring(site):
    for page, text in _api_pages(site).items():
        shown = [doc for doc in BUILTIN_DOCSTRINGS if doc in text]
        assert not shown, f"api/{page} shows a builtin type's docstring: {shown}"


def test_api_cross_references_are_links(site):
    text = _api_pages(site)["mi"]
    # a docstring's reference to a documented object is a link to its entry
    links = set(re.findall(r'class="autorefs autorefs-internal"[^>]*href="#([\w.]+)"', text))
    assert {"fairmine.mi.DependencePenalty.update", "fairmine.mi.DonskerVaradhan"} <= links


def test_every_page_works_offline(site):
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, page
