"""Filter benchmark: classifier quality (ROC AUC, F1 on a held-out split) and documents/s on CPU.

    python benchmarks/filters.py                       # 2,000 generated pages, 70/30 split
    python benchmarks/filters.py --pages 4000 --lid-model /path/lid.176.ftz --dev-corpus /work/shared/dev-corpus
    python benchmarks/filters.py --dev-corpus /work/shared/dev-corpus --dev-only   # the labelled check alone (~1 min)

The labelled set is built here (curate.testing.filter_pages): good pages (explanations, math with
LaTeX, code tutorials) and bad pages (spam, keyword stuffing, navigation, word salad from the
good pages' own vocabulary, thin pages buried in chrome). Printed, in one run:
  * ROC AUC and F1 of: the rule filter used as a classifier (the peer), fastText, the LM classifier;
  * documents/s of rules, language id (py3langid; fastText lid when a model is given), domain,
    fastText scoring, LM scoring, and the whole default filter, each with its ratio to the rules;
  * with --dev-corpus, a labelled check of curate's default DocumentFilter beside datatrove 0.10.1's
    default GopherRepetition → GopherQuality → C4Quality → FineWebQuality filters (in its own venv,
    benchmarks/_datatrove_filters.py; --no-datatrove skips it) on the same texts. Should keep: every
    page of math_html/, code_html/ and pdf/ extracted by curate's extractors, counted only when
    English (curate's lang annotation or py3langid on the text). Should drop: ~300 generated bad
    pages (synthetic.bad_page's kinds, plus boilerplate, SEO templates and repeated paragraphs).
    Printed: kept/dropped per domain and side, documents each rule dropped (good/bad), the good
    documents each side dropped with rule and detail, the formulas and code blocks (truth.jsonl)
    in the documents each side keeps, and a summary against the targets (keep >= 97% of English
    good docs, drop >= 95% of bad pages). Both sides read the same texts: curate's Markdown,
    with LaTeX, fenced code and tables, which is what a datatrove user filtering curate's
    extraction would see (datatrove's own pipeline would give its filters trafilatura's text).
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
    ap.add_argument("--dev-corpus", default=None, help="/work/shared/dev-corpus: also run the labelled check (curate vs datatrove)")
    ap.add_argument("--dev-only", action="store_true", help="run only the --dev-corpus check (no classifier training)")
    ap.add_argument("--no-datatrove", action="store_true", help="--dev-corpus check without datatrove's side")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the LM on CPU")
    args = ap.parse_args()
    if args.dev_only:
        if not args.dev_corpus:
            ap.error("--dev-only needs --dev-corpus DIR")
        from curate.filters.config import FilterConfig

        return dev(args.dev_corpus, FilterConfig(), args.seed, not args.no_datatrove)

    import torch

    torch.set_num_threads(args.threads)
    from curate.filters.apply import DocumentFilter
    from curate.filters.config import FilterConfig
    from curate.filters.domain import DomainClassifier
    from curate.filters.fasttext_quality import FastTextClassifier, train_quality
    from curate.filters.langid import LanguageId
    from curate.filters.lm_quality import LMQualityModel, train_lm
    from curate.filters.rules import rule_failures
    from curate.filters.text import parse
    from curate.schema import new_document
    from curate.testing.filter_pages import labelled_pages

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
        dev(args.dev_corpus, cfg, args.seed, not args.no_datatrove)


# ---------------------------------------------------------------- labelled check on the dev corpus

COOKIE = [
    "We use cookies and similar technologies to personalise content and ads, to provide social media features and to analyse our traffic.",
    'By clicking "Accept all", you agree to the storing of cookies on your device to enhance site navigation, analyse site usage and assist in our marketing efforts.',
    'You can change your cookie settings at any time by clicking "Cookie Preferences" at the bottom of any page.',
    "Strictly necessary cookies are required for the website to function and cannot be switched off in our systems.",
    "Performance cookies allow us to count visits and traffic sources so we can measure and improve the performance of our site.",
    "We also share information about your use of our site with our social media, advertising and analytics partners.",
]
TERMS = [
    "By accessing this website, you agree to be bound by these Terms and Conditions of Use and agree that you are responsible for compliance with any applicable local laws.",
    "The materials on this website are provided on an 'as is' basis. {co} makes no warranties, expressed or implied, and hereby disclaims all other warranties.",
    "In no event shall {co} or its suppliers be liable for any damages arising out of the use or inability to use the materials on this website.",
    "{co} may revise these terms of service for its website at any time without notice.",
    "These terms and conditions are governed by the laws of {place} and you irrevocably submit to the exclusive jurisdiction of the courts in that location.",
    "Permission is granted to temporarily download one copy of the materials for personal, non-commercial transitory viewing only.",
    "Your privacy is important to us. It is the policy of {co} to respect your privacy regarding any information we may collect from you across our website.",
    "We only retain collected information for as long as necessary to provide you with your requested service.",
    "We do not share any personally identifying information publicly or with third parties, except when required to by law.",
]
FOOTER = [
    "© {year} {co}. All rights reserved.", "Privacy Policy | Terms of Use | Cookie Settings | Accessibility",
    "Registered office: 12 High Street, {place}.", "Follow us on Facebook, Twitter and Instagram",
    "Sign up to our newsletter", "Contact us | Careers | Press | Sitemap", "Accept all | Reject all | Manage preferences",
]
SEO = [
    "Best {x} in {y} {year}.", "Buy {x} in {y} today.", "{X} for sale in {y}.", "Cheap {x} in {y} with free delivery.",
    "Looking for {x} in {y}? We have the best {x} in {y}.", "Top 10 {x} in {y} ({year} update).",
    "Compare {x} prices in {y} and save up to {pct}%.", "Find the best deals on {x} near {y}.",
    "Order {x} online in {y} and get them delivered tomorrow.", "{X} in {y}: reviews, prices and offers for {year}.",
]
PRODUCTS = ["running shoes", "gaming laptops", "office chairs", "air fryers", "electric bikes", "wireless earbuds",
            "coffee machines", "mattresses", "car tyres", "dog food"]
PLACES = ["London", "Manchester", "Leeds", "Bristol", "Dublin", "Boston", "Chicago", "Denver", "Austin", "Seattle",
          "Toronto", "Sydney", "Melbourne", "Auckland", "Phoenix"]
COMPANIES = ["Northwind Ltd", "Acme Media Group", "Bluewave Digital", "Crestline Retail", "Harbor Publishing"]


def bad_pages(seed: int, per_kind: int = 38) -> list[tuple[str, str]]:
    """(kind, text) of generated pages that should be dropped, deterministic for ``seed``:
    5 * per_kind pages of curate.testing.filter_pages.bad_page (spam, keywords, nav, salad, thin, at
    random) and per_kind each of boilerplate (cookie banner, terms wall, footer), seo (templated
    sentences repeated with slot fills) and repeated (one paragraph of a good page, 4-9 times)."""
    import random

    from curate.testing.filter_pages import bad_page, good_page

    rng = random.Random(seed)
    out = [bad_page(rng) for _ in range(5 * per_kind)]
    for _ in range(per_kind):
        co, place, year = rng.choice(COMPANIES), rng.choice(PLACES), rng.randint(2015, 2025)
        terms = rng.sample(TERMS, rng.randint(6, len(TERMS)))
        text = "\n\n".join([" ".join(rng.sample(COOKIE, rng.randint(3, 5))), "## Terms and Conditions",
                            *(" ".join(terms[i:i + 3]) for i in range(0, len(terms), 3)),
                            "\n".join(rng.sample(FOOTER, rng.randint(4, len(FOOTER))))])
        out.append(("boilerplate", text.format(co=co, place=place, year=year)))
    for _ in range(per_kind):
        x, year = rng.choice(PRODUCTS), rng.randint(2019, 2025)
        places = rng.sample(PLACES, rng.randint(5, 9))
        paras = [f"# Best {x} in {places[0]} {year}"] + [
            " ".join(t.format(x=x, X=x.capitalize(), y=y, year=year, pct=rng.choice([10, 20, 30, 50]))
                     for t in rng.sample(SEO, rng.randint(3, 6))) for y in places]
        out.append(("seo", "\n\n".join(paras)))
    for _ in range(per_kind):
        paras = good_page(rng)[1].split("\n\n")
        out.append(("repeated", "\n\n".join([paras[0]] + [max(paras, key=len)] * rng.randint(4, 9))))
    return out


def good_docs(root: str) -> tuple[list[tuple[str, dict]], list[tuple[str, str]]]:
    """Every page of math_html/, code_html/ and pdf/ through curate's extractors:
    ([(domain, Document)], [(path, reject reason)] for those not extracted)."""
    from curate.errors import Reject
    from curate.extractors.config import ExtractConfig
    from curate.extractors.html import HTMLExtractor
    from curate.extractors.pdf import PDFExtractor
    from curate.schema import new_document

    cfg = ExtractConfig()
    html, pdf = HTMLExtractor(cfg.html), PDFExtractor(cfg.pdf)
    docs, failed = [], []
    for folder, domain, fmt, ex in (("math_html", "math", "html", html), ("code_html", "code", "html", html),
                                    ("pdf", "paper", "pdf", pdf)):
        for path in sorted(glob.glob(os.path.join(root, folder, f"*.{fmt}"))):
            uri = os.path.relpath(path, root)
            try:
                with open(path, "rb") as f:
                    text, meta = ex.extract(f.read(), uri)
            except Reject as r:
                failed.append((uri, r.reason))
                continue
            docs.append((domain, new_document(source=folder, uri=uri, format=fmt, text=text, extractor=ex.name, meta=meta)))
    return docs, failed


def datatrove_verdicts(texts: list[str]) -> list[dict]:
    """benchmarks/_datatrove_filters.py in datatrove's venv (created on first use): one verdict per text."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    from pipeline import ensure_datatrove_venv

    py = ensure_datatrove_venv(os.path.join(here, "_work"))
    with tempfile.TemporaryDirectory(prefix="bench-filters-dt-") as tmp:
        src, dst = os.path.join(tmp, "docs.jsonl"), os.path.join(tmp, "verdicts.jsonl")
        with open(src, "w") as f:
            for i, t in enumerate(texts):
                f.write(json.dumps({"id": str(i), "text": t}) + "\n")
        subprocess.run([py, os.path.join(here, "_datatrove_filters.py"), "--input", src, "--output", dst], check=True)
        with open(dst) as f:
            out = {v["id"]: v for v in map(json.loads, f)}
    return [out[str(i)] for i in range(len(texts))]


def truth_units(root: str, rows: list[dict]) -> list[tuple[str, int, dict]]:
    """(formulas | code blocks, how many of the page's truth units its extracted text holds, row) per page with truth."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("extract_html_bench", os.path.join(here, "extract_html.py"))
    eh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eh)
    truth = {}
    for folder in ("math_html", "code_html"):
        path = os.path.join(root, folder, "truth.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                truth.update({f"{folder}/{t['file']}": t for t in map(json.loads, f) if t.get("file")})
    out = []
    for r in rows:
        t = truth.get(r["doc"]["uri"])
        if t is None:
            continue
        text = r["doc"]["text"]
        if t.get("formulas"):
            kinds = t.get("formula_kinds") or [""] * len(t["formulas"])
            out.append(("formulas", sum(eh.formula_hits(t["formulas"], kinds, text)), r))
        blocks = [b for b in t.get("code_blocks") or [] if eh._lines(b)]
        if blocks:
            out.append(("code blocks", sum(eh.code_hits(blocks, text)), r))
    return out


def dev(root: str, cfg, seed: int = 0, datatrove: bool = True) -> None:
    """Labelled check: English math/code/paper pages of the dev corpus should be kept, generated
    bad pages dropped; curate's default DocumentFilter beside datatrove's default filters."""
    from collections import Counter

    import py3langid

    from curate.filters.apply import DocumentFilter
    from curate.schema import new_document

    t0 = time.perf_counter()
    good, failed = good_docs(root)
    bad = bad_pages(seed)
    rows = [{"label": "good", "domain": dom, "doc": d} for dom, d in good]
    rows += [{"label": "bad", "domain": kind, "doc": new_document(source="generated", uri=f"generated/{kind}/{i}", format="text", text=t)}
             for i, (kind, t) in enumerate(bad)]
    sides = ["curate"] + (["datatrove"] if datatrove else [])
    for r, (k, v) in zip(rows, DocumentFilter(cfg).apply([r["doc"] for r in rows])):
        d = v if k == "doc" else v[2]
        r["lang"] = d["lang"]
        r["curate"] = (True, None, None) if k == "doc" else (False, v[0], v[1])
    if datatrove:
        for r, v in zip(rows, datatrove_verdicts([r["doc"]["text"] for r in rows])):
            r["datatrove"] = (True, None, None) if v["kept"] else (False, f"{v['filter']}:{v['reason']}", "")
    for r in rows:
        r["lid"] = py3langid.classify(" ".join(r["doc"]["text"].split()))[0]
        r["english"] = r["lang"] == "en" or r["lid"] == "en"
    counted = [r for r in rows if r["label"] == "bad" or r["english"]]

    print(f"\nlabelled check on {root} (seed {seed}): {len(good)} pages extracted, {len(failed)} not extracted, "
          f"{len(bad)} generated bad pages ({time.perf_counter() - t0:.0f}s)")
    for uri, reason in failed:
        print(f"  not extracted: {uri} ({reason})")
    print("  English = curate's filter annotates lang 'en' OR py3langid.classify(whole text) says 'en'; excluded:")
    for r in rows:
        if r["label"] == "good" and not r["english"]:
            print(f"    {r['doc']['uri']}: curate lang={r['lang']}, py3langid={r['lid']}")

    print(f"\n{'domain':<14}{'n':>5}" + "".join(f"{s + ' kept':>16}{'dropped':>9}" for s in sides))
    for dom in dict.fromkeys(r["domain"] for r in counted):
        rs = [r for r in counted if r["domain"] == dom]
        line = f"{dom + (' (en)' if rs[0]['label'] == 'good' else ''):<14}{len(rs):>5}"
        for s in sides:
            kept = sum(r[s][0] for r in rs) / len(rs)
            line += f"{kept:>16.1%}{1 - kept:>9.1%}"
        print(line)

    print(f"\n{'side':<10}{'rule':<48}{'good':>6}{'bad':>6}   (documents each rule dropped; good = English only)")
    for s in sides:
        rules = Counter((r[s][1], r["label"]) for r in counted if not r[s][0])
        for rule in sorted({k for k, _ in rules}, key=lambda k: -rules[k, "good"] - rules[k, "bad"]):
            print(f"{s:<10}{rule:<48}{rules[rule, 'good']:>6}{rules[rule, 'bad']:>6}")

    for s in sides:
        dropped = [r for r in counted if r["label"] == "good" and not r[s][0]]
        print(f"\nEnglish good documents {s} dropped: {len(dropped)}")
        for r in dropped:
            print(f"  {r['doc']['uri']}: {r[s][1]} {r[s][2] or ''}".rstrip())

    print("\nformulas and code blocks of the English pages (truth.jsonl, matched as benchmarks/extract_html.py does)")
    units = truth_units(root, [r for r in counted if r["label"] == "good"])
    for kind in ("formulas", "code blocks"):
        extracted = sum(n for k, n, _ in units if k == kind)
        line = f"  {kind:<12} after extraction {extracted:5d}"
        for s in sides:
            kept = sum(n for k, n, r in units if k == kind and r[s][0])
            line += f"   after {s}'s filters {kept:5d} ({kept / max(1, extracted):.1%})"
        print(line)

    print()
    goods = [r for r in counted if r["label"] == "good"]
    bads = [r for r in counted if r["label"] == "bad"]
    for s in sides:
        keep = sum(r[s][0] for r in goods) / len(goods)
        drop = sum(not r[s][0] for r in bads) / len(bads)
        print(f"{s}: keeps {keep:.1%} of {len(goods)} English math/code/paper docs (target >= 97%) and drops "
              f"{drop:.1%} of {len(bads)} generated bad pages (target >= 95%)")


if __name__ == "__main__":
    sys.exit(main())
