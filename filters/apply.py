"""The whole filter over a batch of Documents: word count → language → rules → domain filter → classifiers.

``DocumentFilter(cfg).apply(docs)`` returns, per input document, either ``("doc", doc)``
with ``lang``, ``lang_score``, ``domain`` and ``scores`` filled, or ``("reject", (reason,
detail, doc))`` naming the rule or classifier and its score. Cheap checks run first so the
classifiers only see documents that survived them. Models load once, in the constructor
(the pipeline builds one DocumentFilter per worker in ``DoFn.setup``).
"""

from __future__ import annotations

from typing import Any

from curate.errors import Reject
from curate.filters.config import FilterConfig
from curate.filters.domain import DomainClassifier
from curate.filters.langid import LanguageId
from curate.filters import rules
from curate.filters.rules import rule_failures
from curate.filters.text import Parsed, parse

UND = "und"


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
            letters = sum(c.isalpha() for c in p.prose[: self.cfg.lang_max_chars])
            if letters < self.cfg.lang_min_chars:
                d["lang"], d["lang_score"] = UND, 0.0
            else:
                todo.append((d, p))
        if todo:
            for (d, _), (lang, score) in zip(todo, self.langid.predict([p.prose for _, p in todo])):
                d["lang"], d["lang_score"] = lang, round(score, 6)

    def _lang_failure(self, d: dict) -> tuple[str, str] | None:
        allowed = self.cfg.languages
        if not allowed:
            return None
        if d["lang"] == UND:
            if d["domain"] in ("code", "math"):
                return None
            return "filter:lang", f"lang=und: too little prose to identify (domain={d['domain']})"
        if d["lang"] not in allowed:
            return "filter:lang", f"lang={d['lang']} ({d['lang_score']:.3f}) not in {allowed}"
        if d["lang_score"] < self.cfg.min_lang_score:
            return "filter:lang", f"lang={d['lang']} score={d['lang_score']:.3f} < {self.cfg.min_lang_score}"
        return None

    def apply(self, docs: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        cfg = self.cfg
        docs = [{**d, "scores": dict(d.get("scores") or {})} for d in docs]
        parsed = [parse(d.get("text") or "") for d in docs]
        self._language(docs, parsed)
        for d, p, dom in zip(docs, parsed, self.domains.predict(parsed)):
            d["domain"] = dom
            d["scores"]["math_density"] = round(p.math_frac, 6)
            d["scores"]["code_density"] = round(p.code_frac, 6)
        failure: list[tuple[str, str] | None] = [None] * len(docs)
        for i, (d, p) in enumerate(zip(docs, parsed)):
            if not (d.get("text") or "").strip():
                failure[i] = ("filter:empty", "no text")
                continue
            # word count first (a too-short page is "too short", not "unknown language"), then language
            wc = rules.word_count(p, cfg)
            failure[i] = ("filter:gopher:word_count", wc) if wc else self._lang_failure(d)
            if failure[i] is None:
                fails = rule_failures(p, cfg, first_only=self.drop)
                failure[i] = fails[0] if fails else None
            if failure[i] is None and cfg.keep_domains and d["domain"] not in cfg.keep_domains:
                failure[i] = ("filter:domain", f"domain={d['domain']} not in {cfg.keep_domains}")
        # Classifiers: in filter mode only on the survivors of the cheap checks.
        live = [i for i in range(len(docs)) if failure[i] is None or not self.drop]
        if self.fasttext is not None and live:
            for i, s in zip(live, self.fasttext.quality([docs[i]["text"] or "" for i in live])):
                docs[i]["scores"]["fasttext_quality"] = round(s, 6)
                m = cfg.fasttext.min_score
                if failure[i] is None and m is not None and s < m:
                    failure[i] = ("filter:fasttext_quality", f"fasttext_quality={s:.4f} < {m}")
            live = [i for i in live if failure[i] is None or not self.drop]
        if self.lm is not None and live:
            for i, s in zip(live, self.lm.score([docs[i]["text"] or "" for i in live])):
                docs[i]["scores"]["lm_quality"] = round(s, 6)
                m = cfg.lm.min_score
                if failure[i] is None and m is not None and s < m:
                    failure[i] = ("filter:lm_quality", f"lm_quality={s:.3f} < {m}")
        out: list[tuple[str, Any]] = []
        for d, f in zip(docs, failure):
            if f is not None and self.drop:
                out.append(("reject", (f[0], f[1], d)))
            else:
                out.append(("doc", d))
        return out

    def check(self, doc: dict[str, Any]) -> dict[str, Any]:
        """One document: the annotated document, or ``Reject`` with the failing rule/classifier."""
        kind, val = self.apply([doc])[0]
        if kind == "reject":
            raise Reject(val[0], val[1])
        return val
