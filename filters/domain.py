"""Domain labels (math / code / general) for the mixtures.

Default: a signal classifier that needs no model. Extraction keeps math as ``$…$``/``$$…$$``
and code as fenced blocks, so the share of a page's characters inside code and inside math
is a direct, explainable measure of what the page is about: ``code`` when code is at least
``code_min_frac`` of the characters (``code_min_frac_with_block`` when there is a fenced
block) and more than math, ``math`` when math spans are at
least ``math_min_frac`` of the characters and there are ``math_min_spans`` of them,
``general`` otherwise. An optional fastText domain model (trained on labelled pages with
``curate classifier train --kind fasttext --labels``) takes over where it is confident.
"""

from __future__ import annotations

from curate.filters.config import DomainConfig
from curate.schema import DEFAULT_DOMAIN
from curate.filters.text import Parsed

DOMAINS = ("math", "code", DEFAULT_DOMAIN)


def signal_domain(p: Parsed, cfg: DomainConfig) -> str:
    """math / code / general from the code and math shares of ``p``."""
    need = cfg.code_min_frac_with_block if p.code_blocks else cfg.code_min_frac
    if p.code_frac >= need and p.code_frac >= p.math_frac:
        return "code"
    if p.math_frac >= cfg.math_min_frac and p.math_spans >= cfg.math_min_spans:
        return "math"
    return DEFAULT_DOMAIN


class DomainClassifier:
    """Signal classifier, overridden by a confident fastText domain model when one is configured."""

    def __init__(self, cfg: DomainConfig):
        self.cfg = cfg
        self.model = None
        if cfg.model:
            from curate.filters.fasttext_quality import FastTextClassifier

            self.model = FastTextClassifier(cfg.model)

    def predict(self, parsed: list[Parsed]) -> list[str]:
        out = [signal_domain(p, self.cfg) for p in parsed]
        if self.model is not None and parsed:
            for i, (lab, prob) in enumerate(self.model.top([p.text for p in parsed])):
                if lab and prob >= self.cfg.min_prob:
                    out[i] = lab
        return out
