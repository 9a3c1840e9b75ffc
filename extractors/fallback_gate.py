"""Trafilatura's fallback comparison, skipped on pages where it cannot change the result.

In precision mode trafilatura runs readability on every page (and jusText on some) and then
keeps its own extraction unless readability's text is over twice as long, its own is empty or
structurally deficient (no paragraph text, more tables than paragraphs), or the extraction is
unclean or short enough to consult jusText (``trafilatura.external.compare_extraction``).
Readability's text is part of the page's text, so when the own extraction is at least half of
all the page's text (and clean, long enough and made of paragraphs) none of those can happen:
the comparison would return the own extraction unchanged. ``install`` puts that check in front
of the comparison; on every other page the comparison runs as before. Same output, less CPU
(readability was ~28% of the extractor's time on the generated corpus).

The check relies on the comparison's rules of trafilatura 2.3; ``install`` leaves trafilatura
as it is for another version (the comparison then always runs).
"""

from __future__ import annotations

import re

import trafilatura
import trafilatura.core as _core
import trafilatura.external as _external

CHECKED_VERSIONS = ("2.3.",)  # releases whose compare_extraction has the rules above
STATS = {"skipped": 0, "compared": 0}  # pages of this process, for benchmarks
_SPACES = re.compile(r"\s+")


def cannot_change(raw_tree, body, text: str, options) -> bool:
    """Whether ``compare_extraction(…, raw_tree, body, text, options)`` must return ``body, text``."""
    n = len(text)
    if options.focus == "recall" or n < options.min_extracted_size:
        return False
    if body.xpath(_external.SANITIZED_XPATH):
        return False  # unclean: jusText is consulted
    if not body.xpath(".//p//text()") or len(body.findall(".//table")) > len(body.findall(".//p")):
        return False  # structurally deficient: readability may win on length alone
    return 2 * n >= _page_bound(raw_tree)


def _page_bound(tree) -> int:
    """An upper bound of the length of any trimmed text made of the tree's text nodes: all of
    them with runs of whitespace collapsed, plus one separator between each two."""
    return len(_SPACES.sub(" ", tree.xpath("string()"))) + int(tree.xpath("count(.//text())"))


def _gated(cleaned_tree, raw_tree, body, text, options):
    if cannot_change(raw_tree, body, text, options):
        STATS["skipped"] += 1
        return body, text
    STATS["compared"] += 1
    return _external.compare_extraction(cleaned_tree, raw_tree, body, text, options)


def install() -> bool:
    """Gate trafilatura's comparison in this process (once); False when its version is unchecked."""
    if not trafilatura.__version__.startswith(CHECKED_VERSIONS):
        return False
    _core.compare_extraction = _gated
    return True


def uninstall() -> None:
    _core.compare_extraction = _external.compare_extraction
