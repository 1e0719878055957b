"""MkDocs hook: each results file that a page includes is shown in a form that fits the page.

``mkdocs.yml`` names this file under ``hooks``. A page includes a results file as a code block
holding ``--8<-- "NAME.txt"``, or a Markdown results file (a sweep's summary) as a bare
``--8<-- "NAME.md"`` line; both are replaced by ``render_docs.render_include(NAME)`` before the
page is converted (see ``benchmarks/render_docs.py``), so the page's source stays one line per
file and ``tests/test_results_tables.py`` can check it.
"""

from __future__ import annotations

import re
from typing import Any

from render_docs import render_include  # mkdocs puts this file's folder on sys.path

INCLUDE = re.compile(
    r'^```text\n--8<-- "(?P<text>[^"]+)"\n```$|^--8<-- "(?P<markdown>[^"]+\.md)"$', re.M
)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace every include of a results file by what `render_include` makes of it."""
    return INCLUDE.sub(lambda m: render_include(m["text"] or m["markdown"]), markdown)
