"""Filter benchmark: classifier quality (ROC AUC, F1 on a held-out split) and documents/s on CPU.

    python benchmarks/filters.py                       # 2,000 generated pages, 70/30 split
    python benchmarks/filters.py --pages 4000 --lid-model /path/lid.176.ftz --dev-corpus /work/shared/dev-corpus

The labelled set is built here (curate.filters.synthetic): good pages (explanations, math with
LaTeX, code tutorials) and bad pages (spam, keyword stuffing, navigation, word salad from the
good pages' own vocabulary, thin pages buried in chrome). Printed, in one run:
  * ROC AUC and F1 of: the rule filter used as a classifier (the peer), fastText, the LM classifier;
  * documents/s of rules, language id (py3langid; fastText lid when a model is given), domain,
    fastText scoring, LM scoring, and the whole default filter, each with its ratio to the rules;
  * with --dev-corpus: the same default filter on real extracted pages (kept share, domain accuracy).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def roc_auc(labels, scores):
    pairs = sorted(zip(scores, labels))
    # rank-sum (Mann–Whitney) with average ranks for ties
    ranks, i = [0.0] * len(pairs), 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    npos = sum(labels)
    nneg = len(labels) - npos
    rpos = sum(r for r, (_, y) in zip(ranks, pairs) if y)
    return (rpos - npos * (npos + 1) / 2) / (npos * nneg)


def f1(labels, preds):
    tp = sum(1 for y, p in zip(labels, preds) if y and p)
    fp = sum(1 for y, p in zip(labels, preds) if not y and p)
    fn = sum(1 for y, p in zip(labels, preds) if y and not p)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lid-model", default=None, help="fastText language-id model (lid.176.ftz/bin) to compare with py3langid")
    ap.add_argument("--encoder", default=None, help="HF encoder dir for the LM classifier (default: all-MiniLM-L6-v2 package)")
    ap.add_argument("--dev-corpus", default=None, help="/work/shared/dev-corpus: also run the default filter on real pages")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the LM on CPU")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from curate.filters.apply import DocumentFilter
    from curate.filters.config import FilterConfig
    from curate.filters.domain import DomainClassifier
    from curate.filters.fasttext_quality import FastTextClassifier, train_quality
    from curate.filters.langid import LanguageId
    from curate.filters.lm_quality import LMQualityModel, train_lm
    from curate.filters.rules import rule_failures
    from curate.filters.synthetic import labelled_pages
    from curate.filters.text import parse
    from curate.schema import new_document

    pages = labelled_pages(args.pages, seed=args.seed)
    cut = int(len(pages) * 0.7)
    train, test = pages[:cut], pages[cut:]
    y = [p["label"] for p in test]
    texts = [p["text"] for p in test]
    print(f"labelled set: {len(pages)} generated pages ({sum(p['label'] for p in pages)} good), "
          f"train {len(train)} / held-out {len(test)}; mean {sum(len(t) for t in texts) / len(texts):.0f} chars/page")
    cfg = FilterConfig()
    work = tempfile.mkdtemp(prefix="bench-filters-")
    speed: dict[str, float] = {}
    quality: dict[str, tuple[float, float]] = {}

    # rules (the peer classifier): pass = 1
    parsed, t_parse = timed(lambda: [parse(t) for t in texts])
    fails, t_rules = timed(lambda: [rule_failures(p, cfg, first_only=True) for p in parsed])
    speed["rules (parse + all rules)"] = len(texts) / (t_parse + t_rules)
    rule_pass = [0 if f else 1 for f in fails]
    quality["rules (pass/fail)"] = (roc_auc(y, rule_pass), f1(y, rule_pass))

    lid, _ = timed(LanguageId, "py3langid", cfg.lang_max_chars)
    _, t = timed(lid.predict, [p.prose for p in parsed])
    speed["langid py3langid"] = len(texts) / t
    if args.lid_model:
        ft_lid = LanguageId(args.lid_model, cfg.lang_max_chars)
        _, t = timed(ft_lid.predict, [p.prose for p in parsed])
        speed["langid fastText lid"] = len(texts) / t
    dom = DomainClassifier(cfg.domain)
    _, t = timed(dom.predict, parsed)
    speed["domain (signals)"] = len(texts) / (t + t_parse)

    # fastText quality
    ft_path = os.path.join(work, "quality.bin")
    _, t_train = timed(train_quality, [p["text"] for p in train if p["label"]], [p["text"] for p in train if not p["label"]], ft_path)
    ft = FastTextClassifier(ft_path)
    s_ft, t = timed(ft.quality, texts)
    speed["fastText quality"] = len(texts) / t
    quality["fastText quality"] = (roc_auc(y, s_ft), f1(y, [s >= 0.5 for s in s_ft]))
    print(f"fastText: trained on {len(train)} pages in {t_train:.1f}s")

    # LM classifier: frozen encoder + ridge head on 0–5 scores
    lm_dir = os.path.join(work, "lm")
    _, t_train = timed(lambda: train_lm([p["text"] for p in train], [p["score"] for p in train], lm_dir,
                                        encoder=args.encoder, device="cpu", max_length=256, copy_encoder=False))
    lm = LMQualityModel(lm_dir, device="cpu", max_length=256)
    s_lm, t = timed(lm.score, texts)
    speed["LM quality (MiniLM, 256 tokens)"] = len(texts) / t
    quality["LM quality (0-5)"] = (roc_auc(y, s_lm), f1(y, [s >= 2.5 for s in s_lm]))
    print(f"LM: encoder {lm.meta['encoder_source']}, head trained on {len(train)} pages in {t_train:.1f}s")

    # the whole default filter (rules + langid + domain, no models)
    flt = DocumentFilter(cfg)
    docs = [new_document(source="b", uri=str(i), format="text", text=t, offset=i) for i, t in enumerate(texts)]
    _, t = timed(flt.apply, docs)
    speed["default filter (rules+langid+domain)"] = len(texts) / t

    print("\nclassifier                 ROC AUC    F1   (held-out split)")
    for name, (a, f) in quality.items():
        print(f"  {name:<24} {a:7.4f} {f:6.3f}")
    base = speed["rules (parse + all rules)"]
    print("\nthroughput on CPU                      docs/s   vs rules")
    for name, v in speed.items():
        print(f"  {name:<36} {v:9.1f}   {v / base:6.3f}x")
    target = all(quality[k][0] > 0.9 for k in ("fastText quality", "LM quality (0-5)"))
    print(f"\nAUC > 0.9 for both classifiers: {'yes' if target else 'NO'}")

    if args.dev_corpus:
        dev(args.dev_corpus, cfg)


def dev(root: str, cfg) -> None:
    """Default filter on real pages of the dev corpus: kept share per folder and domain accuracy."""
    from collections import Counter

    from curate.extractors.config import ExtractConfig
    from curate.extractors.html import HTMLExtractor
    from curate.filters.apply import DocumentFilter
    from curate.schema import new_document

    ex = HTMLExtractor(ExtractConfig().html)
    recs = []
    for kind in ("math", "code", "general"):
        for f in sorted(glob.glob(f"{root}/{kind}_html/**/*.html*", recursive=True)):
            data = open(f, "rb").read()
            if f.endswith(".gz"):
                data = gzip.decompress(data)
            try:
                text, _ = ex.extract(data, f)
            except Exception:  # noqa: BLE001 - extraction failures are the extractor benchmark's business
                continue
            recs.append((kind, new_document(source=kind, uri=f, format="html", text=text)))
    flt = DocumentFilter(cfg)
    res = flt.apply([d for _, d in recs])
    kept, right, reasons = Counter(), Counter(), Counter()
    for (kind, _), (k, v) in zip(recs, res):
        d = v if k == "doc" else v[2]
        kept[kind] += k == "doc"
        right[kind] += d["domain"] == kind
        if k != "doc":
            reasons[v[0]] += 1
    print(f"\ndev corpus: {len(recs)} real pages extracted")
    for kind in ("math", "code", "general"):
        n = sum(1 for k, _ in recs if k == kind)
        print(f"  {kind:<8} {n:4d} pages  kept {kept[kind] / n:6.1%}  domain = folder {right[kind] / n:6.1%}")
    print("  rejects: " + json.dumps(dict(reasons.most_common())))


if __name__ == "__main__":
    sys.exit(main())
