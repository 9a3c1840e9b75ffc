"""report.html in a real browser: headless Chromium driven by Playwright's Python API.

Used by the rendering test (tests/test_report_browser.py) and by ``make demo``, which writes
screenshots beside the report::

    python -m curate.testing.browser out/stage2/report.html    # → report-1280.png, report-400.png

Playwright drives the system's Chromium (Debian's ``chromium``; ``playwright install`` is not
needed, nothing is downloaded). ``chromium()`` is None when neither is there.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field

WIDTHS = (1280, 400)


def chromium() -> str | None:
    """The Chromium executable to drive, or None (then the browser checks cannot run)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Rendered:
    """What one load of report.html at one width showed."""

    width: int
    console: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    charts_rendered: int = 0
    charts_error: str | None = None
    math_rendered: int = 0
    katex_elements: int = 0
    math_errors: int = 0
    bars: dict[str, int] = field(default_factory=dict)  # chart id → bars drawn
    scroll_width: int = 0  # the page's width: more than ``width`` means horizontal scrolling


def render(path: str, widths=WIDTHS, screenshots: str | None = None) -> list[Rendered]:
    """Load ``path`` at each width; with ``screenshots`` (a directory) save a full-page PNG per width."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            for w in widths:
                page = browser.new_page(viewport={"width": w, "height": 900})
                r = Rendered(width=w)
                page.on("console", lambda m, r=r: r.console.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, r=r: r.console.append(f"uncaught: {e}"))
                page.goto("file://" + os.path.abspath(path))
                page.wait_for_function("document.body.dataset.chartsRendered !== '0' || !!document.body.dataset.chartsError",
                                       timeout=30_000)
                got = page.evaluate("""() => ({
                    charts: Number(document.body.dataset.chartsRendered), error: document.body.dataset.chartsError || null,
                    math: Number(document.body.dataset.mathRendered), katex: document.querySelectorAll('.math .katex').length,
                    mathErrors: document.querySelectorAll('.katex-error').length,
                    bars: Object.fromEntries(Array.from(document.querySelectorAll('[data-rendered]')).map(e => [e.id, Number(e.dataset.rendered)])),
                    scroll: document.documentElement.scrollWidth})""")
                r.charts_rendered, r.charts_error, r.math_rendered = got["charts"], got["error"], got["math"]
                r.katex_elements, r.math_errors, r.bars, r.scroll_width = got["katex"], got["mathErrors"], got["bars"], got["scroll"]
                if screenshots:
                    stem = os.path.splitext(os.path.basename(path))[0]
                    page.screenshot(path=os.path.join(screenshots, f"{stem}-{w}.png"), full_page=True)
                page.close()
                out.append(r)
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m curate.testing.browser REPORT.html", file=sys.stderr)
        return 2
    if chromium() is None:
        print("no screenshots: Playwright (pip install playwright) and chromium (apt-get install chromium) are needed",
              file=sys.stderr)
        return 0
    path = args[0]
    for r in render(path, screenshots=os.path.dirname(os.path.abspath(path))):
        bad = r.console or r.charts_error or r.scroll_width > r.width
        print(f"{r.width}px: {r.charts_rendered} charts, {r.math_rendered} formulas, page width {r.scroll_width}px"
              + (f"; PROBLEMS: {r.console or r.charts_error or 'horizontal scroll'}" if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
