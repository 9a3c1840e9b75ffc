"""The whole filter over a batch of Documents: language → domain → rules or classifier → verdict.

``DocumentFilter(cfg).judge(docs)`` returns one ``Verdict`` per document: the document with
``lang``, ``lang_score``, ``domain`` and ``scores`` filled, the reject (reason, detail) or None,
the rule profile it was judged by, the web rules that profile exempted it from, and, when a
small-LM classifier ran with a threshold, what the rules and the model each said.
``apply(docs)`` is the same as ``("doc", doc)`` / ``("reject", (reason, detail, doc))`` pairs.

Who decides (``cfg.judge``):

* rules: the heuristics, with the thresholds of the document's profile (math, code, paper or
  the web defaults; filters/config.py), then the classifiers when their ``min_score`` is set;
* lm (MiMo's choice): only the prefilter (empty, binary, too few words, spam walls) runs
  before the small-LM classifier, which decides the rest. The full rules still run, so the
  report can show where the two disagree.

Language id reads the prose only (math, code, tables and references removed). When that is
too short to identify, is identified as ``zxx`` (no linguistic content: paths, hashes) or
below ``min_lang_score``, the page's own metadata (HTML ``lang``) or the source's configured
language is used, and ``scores.lang_from_metadata`` is 1. Without either, a math or code
document keeps ``und`` or its weak guess and passes when that is an allowed language. Models load once, in the constructor (the pipeline builds
one DocumentFilter per worker in ``DoFn.setup``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from curate.errors import Reject
from curate.filters import rules
from curate.filters.config import FilterConfig
from curate.filters.domain import DomainClassifier
from curate.filters.judges import exemption_event, judges_event
from curate.filters.langid import LanguageId
from curate.filters.text import Parsed, parse
from curate.schema import get_meta

UND = "und"
NO_LANGUAGE = "zxx"
_LANG_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


@dataclass
class Verdict:
    """What the filter decided about one document, and why."""

    doc: dict[str, Any]
    reject: tuple[str, str] | None
    profile: str
    exemptions: list[str] = field(default_factory=list)
    rules_reject: str | None = None  # first failing rule of the full profile rules, whoever judged
    lm_reject: bool | None = None  # the LM's verdict when it ran with a threshold, else None

    @property
    def events(self) -> list[str]:
        """Counted per step for the report: exemptions that saved a kept document, and judge disagreements."""
        out = [exemption_event(self.profile, r) for r in self.exemptions] if self.reject is None else []
        if self.lm_reject is not None:
            out.append(judges_event(self.rules_reject is not None, self.lm_reject))
        return out


def profile_of(domain: str, fmt: str | None) -> str:
    """The rule profile of a document: its domain when math or code, `paper` for PDFs, else `general`."""
    if domain in ("math", "code"):
        return domain
    return "paper" if fmt == "pdf" else "general"


def _hint_language(doc: dict[str, Any], fallback: dict[str, str]) -> str | None:
    """The language the page declares (meta.lang_hint, e.g. `en-US` → `en`), else the source's configured one."""
    hint = get_meta(doc).get("lang_hint") if doc.get("meta") else None
    m = _LANG_TAG.match(str(hint).strip()) if hint else None
    if m and m.group(1).lower() not in (NO_LANGUAGE, UND):
        return m.group(1).lower()
    return fallback.get(doc.get("source") or "")


class DocumentFilter:
    def __init__(self, cfg: FilterConfig):
        self.cfg = cfg
        self.drop = cfg.mode == "filter"
        self.langid = LanguageId(cfg.lang_model, cfg.lang_max_chars)
        self.domains = DomainClassifier(cfg.domain)
        self.fasttext = None
        self.lm = None
        if cfg.fasttext.model:
            from curate.filters.fasttext_quality import FastTextClassifier

            self.fasttext = FastTextClassifier(cfg.fasttext.model)
        if cfg.lm.model:
            from curate.filters.lm_quality import LMQualityModel

            self.lm = LMQualityModel(cfg.lm.model, device=cfg.lm.device, batch_size=cfg.lm.batch_size,
                                     max_length=cfg.lm.max_length)

    def _language(self, docs: list[dict], parsed: list[Parsed]) -> None:
        todo = []
        for d, p in zip(docs, parsed):
            letters = sum(map(str.isalpha, p.lang_text[: self.cfg.lang_max_chars]))
            if letters < self.cfg.lang_min_chars:
                self._fallback(d)
            else:
                todo.append((d, p))
        if todo:
            for (d, _), (lang, score) in zip(todo, self.langid.predict([p.lang_text for _, p in todo])):
                if lang == NO_LANGUAGE:
                    self._fallback(d)
                elif score < self.cfg.min_lang_score:  # not identified with confidence: the page's word first
                    self._fallback(d, (lang, round(score, 6)))
                else:
                    d["lang"], d["lang_score"] = lang, round(score, 6)

    def _fallback(self, d: dict, weak: tuple[str, float] | None = None) -> None:
        """Language from page metadata or the source; else ``weak`` (a low-confidence guess) or ``und``."""
        lang = _hint_language(d, self.cfg.lang_fallback)
        if lang:
            d["lang"], d["lang_score"] = lang, 0.0
            d["scores"]["lang_from_metadata"] = 1.0
        else:
            d["lang"], d["lang_score"] = weak or (UND, 0.0)

    def _lang_failure(self, d: dict) -> tuple[str, str] | None:
        allowed = self.cfg.languages
        if not allowed:
            return None
        if d["lang"] == UND:
            if d["domain"] in ("code", "math"):
                return None
            return "filter:lang", f"lang=und: too little prose to identify and no page or source language (domain={d['domain']})"
        if d["lang"] not in allowed:
            how = "from page metadata" if d["scores"].get("lang_from_metadata") else f"{d['lang_score']:.3f}"
            return "filter:lang", f"lang={d['lang']} ({how}) not in {allowed}"
        if d["lang_score"] < self.cfg.min_lang_score and not d["scores"].get("lang_from_metadata"):
            if d["domain"] in ("code", "math"):
                return None  # a formula or listing with a line of prose: the guess is weak but allowed
            return "filter:lang", f"lang={d['lang']} score={d['lang_score']:.3f} < {self.cfg.min_lang_score}"
        return None

    def _cheap(self, d: dict, p: Parsed, v: Verdict) -> tuple[str, str] | None:
        """Empty, binary, word count, language; then the rules (or only the prefilter when the LM judges)."""
        cfg = self.cfg
        if not (d.get("text") or "").strip():
            return "filter:empty", "no text"
        own = cfg.profile(v.profile)
        for reason, fn in (("filter:binary", rules.binary), ("filter:gopher:word_count", rules.word_count)):
            detail = fn(p, own)
            if detail:
                return reason, detail
        lang = self._lang_failure(d)
        if lang:
            return lang
        fails, v.exemptions = rules.judge_rules(p, cfg, v.profile, first_only=self.drop)
        v.rules_reject = fails[0][0] if fails else None
        if cfg.lm_judges:
            pre = rules.prefilter_failures(p, own)
            return pre[0] if pre else None
        return fails[0] if fails else None

    def judge(self, docs: list[dict[str, Any]]) -> list[Verdict]:
        cfg = self.cfg
        docs = [{**d, "scores": dict(d.get("scores") or {})} for d in docs]
        parsed = [parse(d.get("text") or "") for d in docs]
        self._language(docs, parsed)
        verdicts = []
        for d, p, dom in zip(docs, parsed, self.domains.predict(parsed)):
            p.lang = d["lang"]
            d["domain"] = dom
            d["scores"]["math_density"] = round(p.math_frac, 6)
            d["scores"]["code_density"] = round(p.code_frac, 6)
            v = Verdict(doc=d, reject=None, profile=profile_of(dom, d.get("format")))
            v.reject = self._cheap(d, p, v)
            if v.reject is None and cfg.keep_domains and dom not in cfg.keep_domains:
                v.reject = ("filter:domain", f"domain={dom} not in {cfg.keep_domains}")
            verdicts.append(v)
        # Classifiers: in filter mode only on the survivors of the cheap checks.
        live = [i for i, v in enumerate(verdicts) if v.reject is None or not self.drop]
        if self.fasttext is not None and live:
            for i, s in zip(live, self.fasttext.quality([docs[i]["text"] or "" for i in live])):
                docs[i]["scores"]["fasttext_quality"] = round(s, 6)
                m = cfg.fasttext.min_score
                if verdicts[i].reject is None and m is not None and s < m:
                    verdicts[i].reject = ("filter:fasttext_quality", f"fasttext_quality={s:.4f} < {m}")
            live = [i for i in live if verdicts[i].reject is None or not self.drop]
        if self.lm is not None and live:
            for i, s in zip(live, self.lm.score([docs[i]["text"] or "" for i in live])):
                docs[i]["scores"]["lm_quality"] = round(s, 6)
                m = cfg.lm.min_score
                if m is None:
                    continue
                verdicts[i].lm_reject = s < m
                if verdicts[i].reject is None and s < m:
                    verdicts[i].reject = ("filter:lm_quality", f"lm_quality={s:.3f} < {m}")
        return verdicts

    def apply(self, docs: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        """Per document ``("doc", doc)`` or, in filter mode, ``("reject", (reason, detail, doc))``."""
        out: list[tuple[str, Any]] = []
        for v in self.judge(docs):
            if v.reject is not None and self.drop:
                out.append(("reject", (v.reject[0], v.reject[1], v.doc)))
            else:
                out.append(("doc", v.doc))
        return out

    def check(self, doc: dict[str, Any]) -> dict[str, Any]:
        """One document: the annotated document, or ``Reject`` with the failing rule/classifier."""
        kind, val = self.apply([doc])[0]
        if kind == "reject":
            raise Reject(val[0], val[1])
        return val


def judge_safely(f: DocumentFilter, docs: list[dict[str, Any]]) -> list[Verdict | tuple[dict[str, Any], str, str]]:
    """``f.judge(docs)``; when the batch raises, each document alone, and a document that still
    raises comes back as ``(doc, "error:filter:<Type>", message)``: one bad document must not
    take the worker (or its batch) down."""
    try:
        return f.judge(docs)
    except Exception as e:  # noqa: BLE001
        if len(docs) > 1:
            return [out for d in docs for out in judge_safely(f, [d])]
        return [(docs[0], f"error:filter:{type(e).__name__}", str(e)[:500])]

