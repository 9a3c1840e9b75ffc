"""The embedded sample corpus: a small but realistic mix of inputs, deterministic for a seed.

`write_sample(dir, seed)` writes:
    web/*.html        pages with navigation, ads and footers around the content
    crawl.warc.gz     more pages as WARC response records (one gzip member per record)
    pdf/*.pdf         PDFs made with PyMuPDF: one column, two columns, formulas
    problems.jsonl    math problems with answers and code problems with tests (for synthesis)

Pages cover prose articles, math (MathJax scripts, KaTeX, MathML, `$…$` in text), code in
`<pre><code>`, near-duplicate copies with small edits, exact copies under other URLs, spam,
boilerplate-only pages and pages in other languages. `iter_pages(seed, n)` yields as many
pages as asked (for scale corpora).
"""

from __future__ import annotations

import gzip
import html
import io
import json
import os
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

from curate.sample import text as T

SITES = ["dailyharbour.example", "mathnotes.example", "devcorner.example", "citylife.example", "learnmore.example"]


# ---------------------------------------------------------------- page chrome

def _nav(rng: random.Random, site: str) -> str:
    items = rng.sample(["Home", "News", "Sports", "Opinion", "Weather", "Shop", "Contact", "About us", "Archive", "Login"], 6)
    links = "".join(f'<li><a href="https://{site}/{i.lower().replace(" ", "-")}">{i}</a></li>' for i in items)
    return f'<header class="site-header"><nav class="menu"><ul>{links}</ul></nav></header>'


def _ad(rng: random.Random) -> str:
    offer = rng.choice(["Subscribe today and save 40%", "Sponsored: the mattress everyone talks about", "Advertisement: holiday deals"])
    return f'<aside class="ad sidebar"><div class="advert">{offer}</div><a href="https://ads.example/c?{rng.randint(1, 9999)}">Learn more</a></aside>'


def _footer(site: str) -> str:
    return (
        f'<footer class="site-footer"><p>© 2024 {site}. All rights reserved.</p>'
        '<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li>'
        '<li><a href="/cookies">Cookie settings</a></li></ul></footer>'
    )


def _assets(rng: random.Random, site: str) -> str:
    """The inline styles and scripts real pages carry (analytics config, consent, layout)."""
    rules = "".join(
        f".c{rng.getrandbits(24):06x}{{margin:{rng.randint(0, 24)}px;color:#{rng.getrandbits(24):06x};display:flex}}"
        for _ in range(rng.randint(40, 80))
    )
    cfg = ",".join(f'"k{rng.getrandbits(20):05x}":"{rng.getrandbits(64):016x}"' for _ in range(rng.randint(60, 120)))
    return (
        f"<style>{rules}</style>"
        f'<script>window.__CONFIG__={{{cfg}}};window.dataLayer=window.dataLayer||[];'
        f'function gtag(){{dataLayer.push(arguments)}}gtag("config","{site}");</script>'
    )


def _related(rng: random.Random, site: str) -> str:
    items = "".join(
        f'<li><a href="https://{site}/{rng.getrandbits(32):08x}">{html.escape(T.sentence(rng)[:70])}</a></li>'
        for _ in range(rng.randint(8, 15))
    )
    return f'<section class="related"><h3>More stories</h3><ul>{items}</ul></section>'


def _comments(rng: random.Random) -> str:
    n = rng.randint(0, 4)
    if not n:
        return ""
    items = "".join(
        f'<div class="comment"><span class="author">reader{rng.randint(1, 999)}</span><p>{html.escape(T.sentence(rng))}</p></div>'
        for _ in range(n)
    )
    return f'<section class="comments" id="comments"><h3>{n} comments</h3>{items}</section>'


def _page(rng: random.Random, site: str, title: str, body: str, lang: str = "en", head: str = "",
          comments: bool = True, related: bool = True) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"{_assets(rng, site)}{head}</head>"
        f"<body>{_nav(rng, site)}{_ad(rng)}<main><article><h1>{html.escape(title)}</h1>{body}</article>"
        f"{_comments(rng) if comments else ''}</main>{_related(rng, site) if related else ''}{_ad(rng)}{_footer(site)}"
        '<div class="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div>'
        "</body></html>\n"
    )


# ---------------------------------------------------------------- content kinds

def article_body(rng: random.Random) -> tuple[str, str]:
    title = f"How {rng.choice(T.SUBJECTS)} {rng.choice(T.VERBS)} {rng.choice(T.OBJECTS)}"
    book = T.Book(rng)
    paras = [T.paragraph(book) for _ in range(rng.randint(4, 7))]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
    if rng.random() < 0.4:
        items = "".join(f"<li>{html.escape(T.sentence(book))}</li>" for _ in range(3))
        body += f"<h2>Key points</h2><ul>{items}</ul>"
    return title, body


def _mathml(tex: str) -> str:
    """A small presentation-MathML rendering of simple formulas (the rest keep their TeX as alttext)."""
    toks = []
    for ch in tex.replace(" ", ""):
        if ch.isdigit():
            toks.append(f"<mn>{ch}</mn>")
        elif ch.isalpha():
            toks.append(f"<mi>{ch}</mi>")
        else:
            toks.append(f"<mo>{html.escape(ch)}</mo>")
    return "<mrow>" + "".join(toks) + "</mrow>"


def _formula(style: str, kind: str, tex: str, rng: random.Random) -> str:
    disp = kind == "display"
    if style == "mathjax":
        mode = "; mode=display" if disp else ""
        esc = tex.replace("</", "<\\/")
        return f'<script type="math/tex{mode}">{esc}</script>'
    if style == "katex":
        cls = "katex-display" if disp else "katex-inline"
        return (
            f'<span class="{cls}"><span class="katex"><span class="katex-mathml"><math xmlns="http://www.w3.org/1998/Math/MathML">'
            f'<semantics>{_mathml(tex)}<annotation encoding="application/x-tex">{html.escape(tex)}</annotation></semantics></math></span>'
            f'<span class="katex-html" aria-hidden="true"><span class="base">{html.escape(tex)}</span></span></span></span>'
        )
    if style == "mathml":
        display = ' display="block"' if disp else ""
        return f'<math xmlns="http://www.w3.org/1998/Math/MathML" alttext="{html.escape(tex)}"{display}>{_mathml(tex)}</math>'
    return html.escape(f"$${tex}$$" if disp else f"${tex}$")


MATH_STYLES = ["mathjax", "katex", "mathml", "tex"]


def math_body(rng: random.Random, style: str | None = None) -> tuple[str, str]:
    topic, formulas = rng.choice(T.MATH_TOPICS)
    style = style or rng.choice(MATH_STYLES)
    book = T.Book(rng)
    parts = [f"<p>{html.escape(T.paragraph(book, 2))} In this note we study {topic.lower()}.</p>"]
    for kind, tex in formulas:
        f = _formula(style, kind, tex, rng)
        if kind == "display":
            parts.append(f"<p>The central result reads</p><div class=\"equation\">{f}</div>")
        else:
            tmpl = rng.choice(T.MATH_PROSE)
            before, after = tmpl.split("{f}")
            parts.append(f"<p>{html.escape(before)}{f}{html.escape(after)} {html.escape(T.sentence(book))}</p>")
    parts.append(f"<p>{html.escape(T.paragraph(book, 3))}</p>")
    head = '<script src="https://cdn.example/mathjax/tex-chtml.js"></script>' if style == "mathjax" else ""
    return f"{topic}: a worked introduction", "".join(parts) + head


def code_body(rng: random.Random) -> tuple[str, str]:
    lang, title, code = rng.choice(T.CODE_SNIPPETS)
    fn = code.split("(")[0].split()[-1]
    book = T.Book(rng)
    parts = [
        f"<p>{html.escape(T.paragraph(book, 2))}</p>",
        f"<p>{html.escape(rng.choice(T.CODE_PROSE).format(c='`' + fn + '`')).replace('`' + fn + '`', f'<code>{fn}</code>')}</p>",
        f'<pre><code class="language-{lang}">{html.escape(code)}</code></pre>',
        f"<p>Call <code>{html.escape(fn)}</code> with a small example to see it work. {html.escape(T.paragraph(book, 3))}</p>",
    ]
    return f"{title} in {lang.capitalize()}", "".join(parts)


def spam_body(rng: random.Random) -> tuple[str, str]:
    links = "".join(f'<a href="https://spam.example/{i}">{rng.choice(T.SPAM)}</a> ' for i in range(30))
    return "!!! BEST DEALS !!!", f"<p>{html.escape(T.spam_text(rng))}</p><p>{links}</p>"


def foreign_body(rng: random.Random, lang: str) -> tuple[str, str]:
    text = T.FOREIGN[lang]
    return text.split(" ")[1].capitalize() + " " + text.split(" ")[2], "".join(f"<p>{html.escape(text)}</p>" for _ in range(3))


def near_duplicate(body: str, rng: random.Random) -> str:
    """A copy with a few small word-level edits inside paragraphs (a syndicated copy)."""
    words = body.split(" ")
    for _ in range(max(1, len(words) // 120)):
        i = rng.randrange(len(words))
        if "<" not in words[i] and ">" not in words[i]:
            words[i] = rng.choice(["truly", "indeed", "also", "really"])
    return " ".join(words)


# ---------------------------------------------------------------- the page stream

def iter_pages(seed: int, n: int) -> Iterator[tuple[str, str]]:
    """(url, html) for ``n`` pages of the sample's mix; deterministic for ``seed``."""
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []
    # The first pages go once through every kind (each math style too), so even a small
    # sample holds all of them; then kinds are drawn at random.
    schedule = [0.1, 0.4, 0.4, 0.4, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
    for i in range(n):
        site = rng.choice(SITES)
        r = schedule[i] if i < len(schedule) else rng.random()
        lang = "en"
        if r < 0.30:
            title, body = article_body(rng)
        elif r < 0.50:
            title, body = math_body(rng, MATH_STYLES[i - 1] if 1 <= i <= 4 else None)
        elif r < 0.66:
            title, body = code_body(rng)
        elif r < 0.78 and recent:
            title, body = rng.choice(recent)
            body = near_duplicate(body, rng)
        elif r < 0.83 and recent:
            title, body = rng.choice(recent)
        elif r < 0.89:
            title, body = spam_body(rng)
        elif r < 0.93:
            title, body = "Page not found", ""
        else:
            lang = rng.choice(sorted(T.FOREIGN))
            title, body = foreign_body(rng, lang)
        copy = 0.66 <= r < 0.83
        if body and lang == "en" and r < 0.66:
            recent = (recent + [(title, body)])[-20:]
        page = _page(rng, site, title, body, lang, comments=bool(body) and not copy, related=bool(body))
        yield f"https://{site}/{i:06d}/{title.lower().replace(' ', '-')[:40]}", page


# ---------------------------------------------------------------- writers

def _warc_record(url: str, payload: bytes, date: str, rng: random.Random) -> bytes:
    http = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    rid = uuid.UUID(int=rng.getrandbits(128))
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:{rid}>\r\nWARC-Date: {date}\r\nWARC-Target-URI: {url}\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
    ).encode()
    return gzip.compress(head + http + b"\r\n\r\n", compresslevel=6, mtime=0)


def write_warc(path: str, pages: Iterator[tuple[str, str]], seed: int) -> int:
    """Write pages as a .warc.gz (one gzip member per record), atomically; returns the count."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "wb") as f:
        for url, page in pages:
            date = (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            f.write(_warc_record(url, page.encode("utf-8"), date, rng))
            n += 1
    os.replace(tmp, path)
    return n


def write_pdfs(directory: str, seed: int) -> list[str]:
    """Three PDFs made with PyMuPDF: plain one-column, two columns, and one with formula lines."""
    import pymupdf

    rng = random.Random(seed)
    os.makedirs(directory, exist_ok=True)
    out = []
    specs = [("report-one-column.pdf", 1, False), ("paper-two-columns.pdf", 2, False), ("notes-formulas.pdf", 1, True)]
    for name, cols, formulas in specs:
        doc = pymupdf.open()
        for pageno in range(2):
            page = doc.new_page(width=595, height=842)
            page.insert_text((72, 40), f"Sample Journal of Examples · page {pageno + 1}", fontsize=8)
            width = (595 - 144 - 20 * (cols - 1)) / cols
            for c in range(cols):
                x0 = 72 + c * (width + 20)
                lines = []
                for _ in range(3):
                    lines.append(T.paragraph(rng, 3))
                    if formulas:
                        _, fs = rng.choice(T.MATH_TOPICS)
                        lines.append("    " + rng.choice(fs)[1].replace("\\", "").replace("{", "").replace("}", ""))
                page.insert_textbox(pymupdf.Rect(x0, 72, x0 + width, 780), "\n\n".join(lines), fontsize=9, fontname="helv")
            page.insert_text((290, 815), str(pageno + 1), fontsize=8)
        path = os.path.join(directory, name)
        doc.save(path + ".tmp", garbage=3, deflate=True, no_new_id=True)
        doc.close()
        os.replace(path + ".tmp", path)
        out.append(path)
    return out


def problems(seed: int, n_math: int = 12, n_code: int = 8) -> list[dict]:
    """Verifiable seed problems: math with exact answers, code with assert-style tests."""
    rng = random.Random(seed)
    out: list[dict] = []
    for i in range(n_math):
        kind = i % 4
        if kind == 0:
            k = rng.randint(10, 60)
            q, a = f"What is the sum of the first {k} positive integers?", str(k * (k + 1) // 2)
        elif kind == 1:
            a1, b1 = rng.randint(2, 9), rng.randint(10, 40)
            q, a = f"Solve for x: {a1}x + {b1} = {a1 * 7 + b1}.", "7"
        elif kind == 2:
            p, q2 = rng.randint(1, 5), rng.randint(6, 12)
            from fractions import Fraction

            fr = Fraction(p, q2) + Fraction(1, 4)
            q, a = f"Compute {p}/{q2} + 1/4 as a reduced fraction.", f"{fr.numerator}/{fr.denominator}"
        else:
            s = rng.choice([8, 18, 32, 50, 72])
            import math

            root = int(math.isqrt(s // 2))
            q, a = f"Simplify the square root of {s}.", f"{root}\\sqrt{{2}}"
        out.append({"id": f"math-{i:03d}", "kind": "math", "question": q, "answer": a})
    code_specs = [
        ("add", "Write a Python function add(a, b) that returns the sum of a and b.", ["assert add(1, 2) == 3", "assert add(-4, 4) == 0"]),
        ("is_palindrome", "Write a Python function is_palindrome(s) that tells whether the string s reads the same backwards.",
         ["assert is_palindrome('level')", "assert not is_palindrome('curate')"]),
        ("fib", "Write a Python function fib(n) returning the n-th Fibonacci number with fib(0) = 0 and fib(1) = 1.",
         ["assert fib(0) == 0", "assert fib(10) == 55"]),
        ("count_vowels", "Write a Python function count_vowels(s) returning the number of vowels (aeiou) in s.",
         ["assert count_vowels('banana') == 3", "assert count_vowels('xyz') == 0"]),
    ]
    for i in range(n_code):
        entry, q, tests = code_specs[i % len(code_specs)]
        out.append({"id": f"code-{i:03d}", "kind": "code", "question": q, "entry_point": entry, "tests": tests})
    rng.shuffle(out)
    return out


def write_sample(directory: str, seed: int = 1234, pages: int | None = None) -> dict[str, list[str]]:
    """Write the sample corpus to ``directory``; returns {kind: [paths]}.

    With ``pages`` set, writes a scale corpus instead: that many pages as WARC.gz files
    of at most 10,000 records each (and nothing else).
    """
    os.makedirs(directory, exist_ok=True)
    if pages is not None:
        paths = []
        stream = iter_pages(seed, pages)
        for part in range((pages + 9999) // 10000):
            path = os.path.join(directory, f"crawl-{part:05d}.warc.gz")
            chunk = (page for _, page in zip(range(10000), stream))
            write_warc(path, chunk, seed + part)
            paths.append(path)
        return {"warc": paths}
    all_pages = list(iter_pages(seed, 90))
    web_dir = os.path.join(directory, "web")
    os.makedirs(web_dir, exist_ok=True)
    html_paths = []
    for i, (url, page) in enumerate(all_pages[:30]):
        path = os.path.join(web_dir, f"page-{i:03d}.html")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(path + ".tmp", path)
        html_paths.append(path)
    warc = os.path.join(directory, "crawl.warc.gz")
    write_warc(warc, iter(all_pages[30:]), seed)
    pdfs = write_pdfs(os.path.join(directory, "pdf"), seed)
    prob_path = os.path.join(directory, "problems.jsonl")
    with open(prob_path + ".tmp", "w", encoding="utf-8") as f:
        for p in problems(seed):
            f.write(json.dumps(p, sort_keys=True) + "\n")
    os.replace(prob_path + ".tmp", prob_path)
    return {"html": html_paths, "warc": [warc], "pdf": pdfs, "problems": [prob_path]}


def sample_sources(directory: str) -> list[dict]:
    """The source list (as config dicts) that reads a sample written by ``write_sample``."""
    return [
        {"name": "sample-web", "paths": [os.path.join(directory, "web"), os.path.join(directory, "crawl.warc.gz")], "format": "auto"},
        {"name": "sample-pdf", "paths": [os.path.join(directory, "pdf")], "format": "pdf"},
    ]
