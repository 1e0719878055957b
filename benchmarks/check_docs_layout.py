"""Open every page of the built docs in headless Chromium and report what does not fit.

    python benchmarks/check_docs_layout.py [--site DIR] [--width 1280] [--chromium PATH]

Without ``--site`` it builds the site first (``mkdocs build --strict`` into a temporary folder).
Each page is copied with a small script that measures, once the page has laid itself out at
``--width`` pixels:

* every table, and every code block of an included results file, that is wider than the
  column (it scrolls sideways, so columns are off-screen), with its first cells;
* every figure drawn at under 60 % of its pixel width (its labels shrink by as much);
* a name in inline code of a table cell that breaks between two letters or digits;
* any request for a web font or stylesheet from another host (the docs must work offline).

Other code blocks wider than the column (examples whose lines run past it) are listed as notes.
The exit status is 1 when anything but a note is reported, 0 otherwise, 2 without Chromium.
Chromium runs with a fresh profile and no background networking; CI has no Chromium, so the
check is a script rather than a test.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
#: a figure drawn at under this fraction of its pixel width shrinks its labels below legibility
MIN_FIGURE_SCALE = 0.6

# Runs in the page after layout; writes its findings as JSON into <pre id="layout-report">.
_MEASURE = r"""
<script>
window.addEventListener("load", () => setTimeout(() => {
  const column = document.querySelector(".md-content__inner") || document.body;
  const width = column.clientWidth;
  const text = (el) => el.textContent.trim().replace(/\s+/g, " ").slice(0, 70);
  // what a folded block holds is the reader's to unfold (a whole results file): not measured
  const shown = (el) => !el.closest("details:not([open])");
  const found = [];
  for (const table of column.querySelectorAll("table")) {
    const wrap = table.closest(".md-typeset__scrollwrap") || column;
    if (shown(table) && table.offsetWidth > wrap.clientWidth + 1)
      found.push({kind: "table", width: table.offsetWidth, column: wrap.clientWidth,
                  what: text(table.querySelector("tr") || table)});
  }
  for (const code of column.querySelectorAll("pre > code")) {
    const pre = code.parentElement;
    if (shown(code) && code.scrollWidth > pre.clientWidth + 1)
      found.push({kind: code.closest(".results") ? "results code block" : "note: code block",
                  width: code.scrollWidth, column: pre.clientWidth,
                  what: text(code).slice(0, 70)});
  }
  for (const img of column.querySelectorAll("img")) {
    if (img.naturalWidth && img.width < img.naturalWidth * %(scale)s)
      found.push({kind: "figure", width: img.width, column: img.naturalWidth,
                  what: img.getAttribute("src")});
  }
  for (const code of column.querySelectorAll("td code, th code")) {
    // a line break between two letters or digits of a name: broken inside a word
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const chars = [];
    while (walker.nextNode()) {
      const node = walker.currentNode;
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        if (rect) chars.push([node.textContent[i], rect.top]);
      }
    }
    const inside = chars.some(([c, top], i) => i > 0 && top > chars[i - 1][1] + 2
      && /\w/.test(c) && /[A-Za-z0-9]/.test(chars[i - 1][0]) && c !== "_");
    if (inside)
      found.push({kind: "word broken", width: code.offsetWidth, column: width,
                  what: code.textContent});
  }
  const external = [...document.querySelectorAll("link[href], script[src]")]
    .map((el) => el.getAttribute("href") || el.getAttribute("src"))
    .filter((url) => /^(https?:)?\/\//.test(url));
  for (const url of external)
    found.push({kind: "external request", width: 0, column: 0, what: url});
  const report = document.createElement("pre");
  report.id = "layout-report";
  report.textContent = JSON.stringify({column: width, found: found});
  document.body.appendChild(report);
}, 300));
</script>
"""
_REPORT = re.compile(r'<pre id="layout-report">(.*?)</pre>', re.S)


def find_chromium(given: str | None) -> str | None:
    """The Chromium binary: ``given``, else the first of the usual names on PATH."""
    if given:
        return given
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((path for name in names if (path := shutil.which(name))), None)


def build_site(site: Path) -> None:
    """Build the docs into ``site`` with ``mkdocs build --strict``."""
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def measure(page: Path, chromium: str, width: int, profile: Path) -> dict:
    """Lay ``page`` out at ``width`` px in headless Chromium and return the script's findings."""
    probe = page.with_name("layout-probe.html")
    script = _MEASURE.replace("%(scale)s", str(MIN_FIGURE_SCALE))
    page_text = page.read_text(encoding="utf-8")
    probe.write_text(page_text.replace("</body>", script + "</body>"), encoding="utf-8")
    try:
        result = subprocess.run(
            [
                chromium,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},900",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        probe.unlink()
    match = _REPORT.search(result.stdout)
    if match is None:
        return {"column": 0, "found": [{"kind": "no report", "what": result.stderr[-300:]}]}
    return json.loads(html.unescape(match.group(1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one)")
    parser.add_argument("--width", type=int, default=1280, help="window width in px (1280)")
    parser.add_argument("--chromium", help="the Chromium binary (default: found on PATH)")
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("no Chromium found: apt-get install chromium, or pass --chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        site = args.site
        if site is None:
            site = Path(scratch) / "site"
            build_site(site)
        pages = sorted(site.rglob("index.html"))
        problems = notes = 0
        for page in pages:
            name = page.parent.relative_to(site).as_posix() or "(home)"
            profile = Path(tempfile.mkdtemp(dir=scratch))  # a fresh profile per page
            report = measure(page, chromium, args.width, profile)
            for item in report["found"]:
                note = item["kind"].startswith("note")
                notes += note
                problems += not note
                print(f"{name}: {item['kind']} {_size(item)}: {item['what']}")
        print(f"{len(pages)} pages at {args.width} px: {problems} problem(s), {notes} note(s)")
    return int(problems > 0)


def _size(item: dict) -> str:
    if item["kind"] == "figure":
        return f"drawn {item['width']} px wide of its {item['column']} px"
    if item["kind"] == "external request":
        return "(the docs must work offline)"
    return f"{item['width']} px in a {item['column']} px column"


if __name__ == "__main__":
    sys.exit(main())
