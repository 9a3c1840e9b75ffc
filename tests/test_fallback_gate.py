"""Trafilatura's fallback comparison is skipped only where it cannot change the result."""

import glob

import pytest

from curate.errors import Reject
from curate.extractors import fallback_gate
from curate.extractors.config import HTMLConfig
from curate.extractors.html import HTMLExtractor
from curate.io.readers import read_warc_file


def _outputs(pages, gated):
    ex = HTMLExtractor(HTMLConfig())  # installs the gate
    if not gated:
        fallback_gate.uninstall()
    out = []
    for rec in pages:
        try:
            out.append(ex.extract(rec["content"], rec["uri"]))
        except Reject as r:
            out.append(r.reason)
    return out


@pytest.fixture(scope="module")
def sample_pages(tmp_path_factory):
    from curate.sample.generate import write_sample

    d = tmp_path_factory.mktemp("pages")
    write_sample(str(d), seed=11, pages=400)  # the scale corpus: articles, math, code, threads, boilerplate
    recs = []
    for path in sorted(glob.glob(str(d / "**" / "*.warc.gz"), recursive=True)):
        recs += [r for r in read_warc_file(path, "s", 1 << 26, 1 << 28, path) if r["format"] == "html"]
    assert len(recs) >= 100
    return recs[:400]


def test_the_gate_gives_the_same_markdown_on_every_sample_page(sample_pages):
    assert fallback_gate.install()  # the version this project pins is the one the rules were read from
    fallback_gate.STATS.update(skipped=0, compared=0)
    gated = _outputs(sample_pages, gated=True)
    skipped, compared = fallback_gate.STATS["skipped"], fallback_gate.STATS["compared"]
    try:
        assert _outputs(sample_pages, gated=False) == gated
    finally:
        fallback_gate.install()
    assert skipped >= 0.3 * len(sample_pages) and compared > 0, (skipped, compared)


def test_a_page_mostly_made_of_boilerplate_is_still_compared():
    nav = "".join(f"<li><a href='/{i}'>Section number {i} of the site menu</a></li>" for i in range(80))
    html = (f"<html><body><nav><ul>{nav}</ul></nav><article><p>{'A short story about a lighthouse keeper. ' * 4}"
            "</p></article></body></html>")
    ex = HTMLExtractor(HTMLConfig())
    fallback_gate.STATS.update(skipped=0, compared=0)
    ex.extract(html.encode(), "https://x.example/")
    assert fallback_gate.STATS == {"skipped": 0, "compared": 1}
