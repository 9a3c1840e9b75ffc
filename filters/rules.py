"""Heuristic quality rules: Gopher quality and repetition, C4, FineWeb's extra rules.

Each rule is a small named function over a ``Parsed`` document (filters/text.py) and the
``FilterConfig``; it returns ``None`` when the document passes, or a detail string such as
``"words=12 < 50"``. ``check_rules`` runs them in order and raises ``Reject`` with the rule's
reason (``filter:<group>:<rule>``) at the first failure.

Math and code: rules read the *prose* (filters/text.py: inline formulas are one placeholder
word; display math, code, tables and reference lists are removed), so a LaTeX-dense page does
not fail the symbol/alpha-word rules and code does not fail repetition or curly-bracket
rules; documents that are mostly code (``code_exempt_frac``) also skip the rules that need
running prose (stop words, word length, sentences, line punctuation, short lines, lines per
word). Which thresholds a document meets is its profile's business (``FilterConfig.profile``:
math, code, paper or the web defaults); ``judge_rules`` also names the web rules a profile
exempted the document from, so reject details and the report can show what each exemption saved.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import filterfalse
from typing import Callable

from curate.errors import Reject
from curate.filters import repetition
from curate.filters.config import FilterConfig
from curate.filters.text import Parsed, paragraphs

STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
BULLETS = ("•", "●", "○", "▪", "◦", "‣", "⁃", "- ", "* ", "+ ", "– ")
TERMINAL = (".", "!", "?", '"', "'", "”", "’", ":", ";", "…", ")", "。", "！", "？", "；", "：", "）", "」", "』")
_SENTENCE_END = re.compile(r"[.!?…]+(?:[\"'”’)\]]*)(?=\s|$)|[。！？]+[”」』）]*")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies", "cookie settings",
           "cookie preferences", "terms of service", "terms and conditions")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_WORD_STRIP_LINES = re.compile(r"^[^\w\n]+|[^\w\n]+$", re.MULTILINE)
_LATEX_CMD_ARG = re.compile(r"\\[A-Za-z]+\*?\{[^{}\n]*\}")  # \ref{x}, \cite{y}: LaTeX markup, not script
_JS_NOTICE = re.compile(r"javascript.{0,80}\b(enable|disabled|turn(ed)? on|browser|requires?|support)|"
                        r"\b(enable|disabled|turn on|requires?|support)\b.{0,80}javascript")

Rule = Callable[[Parsed, FilterConfig], "str | None"]


def _words_lower(p: Parsed) -> list[str]:
    if "words_lower" not in p.extra:
        # One pass over the words joined by newlines (a word never holds whitespace): the same
        # as stripping and lowering each word, without a Python call per word.
        stripped = _WORD_STRIP_LINES.sub("", "\n".join(p.prose_words)).lower()
        p.extra["words_lower"] = list(filter(None, stripped.split("\n")))
    return p.extra["words_lower"]


def _code_exempt(p: Parsed, cfg: FilterConfig) -> bool:
    return p.code_frac >= cfg.code_exempt_frac


def _not_english(p: Parsed) -> bool:
    """Known to be another language: English stop words and English word lengths say nothing about it."""
    return p.lang is not None and p.lang not in ("en", "und")


# -- Gopher quality ---------------------------------------------------------------------------
def binary(p: Parsed, cfg: FilterConfig) -> str | None:
    """Control characters or U+FFFD: bytes that are not text, or text decoded with the wrong charset."""
    limit = cfg.prefilter.max_control_frac
    if limit is None or not p.text:
        return None
    r = len(_CONTROL.findall(p.text)) / len(p.text)
    return f"control_chars={r:.3f} > {limit}" if r > limit else None


def spam_wall(p: Parsed, cfg: FilterConfig) -> str | None:
    """The prefilter's repetition check: a page that is one line or one word pair over and over."""
    pre = cfg.prefilter
    if pre.wall_max_dup_line_frac is not None and len(p.prose_lines) >= 5:
        r = _dups(p.prose_lines)[0] / len(p.prose_lines)
        if r > pre.wall_max_dup_line_frac:
            return f"dup_lines={r:.3f} > {pre.wall_max_dup_line_frac}"
    words = _words_lower(p)
    total = sum(map(len, words))
    if pre.wall_max_top_2gram_frac is not None and len(words) >= 20 and total:
        gram, count = Counter(zip(words, words[1:])).most_common(1)[0]
        r = (len(gram[0]) + len(gram[1])) * count / total
        if count > 1 and r > pre.wall_max_top_2gram_frac:
            return f"top_2gram={r:.3f} > {pre.wall_max_top_2gram_frac}"
    return None


def word_count(p: Parsed, cfg: FilterConfig) -> str | None:
    n = p.n_words
    if n < cfg.min_words:
        return f"words={n} < {cfg.min_words}"
    if n > cfg.max_words:
        return f"words={n} > {cfg.max_words}"
    return None


def mean_word_length(p: Parsed, cfg: FilterConfig) -> str | None:
    g = cfg.gopher
    words = _words_lower(p)
    if _code_exempt(p, cfg) or _not_english(p) or len(words) < 10:
        return None
    mean = sum(map(len, words)) / len(words)
    if g.min_mean_word_length is not None and mean < g.min_mean_word_length:
        return f"mean_word_length={mean:.2f} < {g.min_mean_word_length}"
    if g.max_mean_word_length is not None and mean > g.max_mean_word_length:
        return f"mean_word_length={mean:.2f} > {g.max_mean_word_length}"
    return None


def symbol_ratio(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.gopher.max_symbol_word_ratio
    if limit is None or not p.prose_words:
        return None
    n = p.prose.count("#") + p.prose.count("...") + p.prose.count("…")
    r = n / len(p.prose_words)
    return f"symbols/words={r:.3f} > {limit}" if r > limit else None


def bullet_lines(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.gopher.max_bullet_lines_ratio
    if limit is None or not p.prose_lines:
        return None
    r = sum(ln.startswith(BULLETS) for ln in p.prose_lines) / len(p.prose_lines)
    return f"bullet_lines={r:.3f} > {limit}" if r > limit else None


def ellipsis_lines(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.gopher.max_ellipsis_lines_ratio
    if limit is None or not p.prose_lines:
        return None
    r = sum(ln.endswith(("...", "…")) for ln in p.prose_lines) / len(p.prose_lines)
    return f"ellipsis_lines={r:.3f} > {limit}" if r > limit else None


def alpha_words(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.gopher.min_alpha_words_ratio
    if limit is None or not p.prose_words:
        return None
    rest = list(filterfalse(str.isalpha, p.prose_words))  # all-letter words need no closer look
    r = (len(p.prose_words) - len(rest) + sum(1 for w in rest if any(map(str.isalpha, w)))) / len(p.prose_words)
    return f"alpha_words={r:.3f} < {limit}" if r < limit else None


def stop_words(p: Parsed, cfg: FilterConfig) -> str | None:
    need = cfg.gopher.min_stop_words
    if need is None or _code_exempt(p, cfg) or _not_english(p):
        return None
    n = sum(map(STOP_WORDS.__contains__, _words_lower(p)))
    return f"stop_words={n} < {need}" if n < need else None


# -- Gopher repetition -----------------------------------------------------------------------
def _dups(items: list[str]) -> tuple[int, int]:
    """(number of items that repeat an earlier one, characters in them)."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


def _dup_stats(p: Parsed, unit: str) -> tuple[int, int, int, int]:
    """(units, repeated units, characters in them, all characters) of the prose lines or paragraphs."""
    def compute():
        units = p.prose_lines if unit == "lines" else paragraphs(p.prose)
        return (len(units), *_dups(units), sum(len(x) for x in units))
    return _cached(p, ("dups", unit), compute)


def _dup_share(p: Parsed, unit: str, max_frac: float | None, max_char_frac: float | None,
               name: str, char_name: str) -> str | None:
    """Gopher's duplicate-unit rule over lines or paragraphs: share of repeated units and of their characters."""
    count, n, chars, total = _dup_stats(p, unit)
    if not count:
        return None
    if max_frac is not None and n / count > max_frac:
        return f"{name}={n / count:.3f} > {max_frac}"
    if max_char_frac is not None and total and chars / total > max_char_frac:
        return f"{char_name}={chars / total:.3f} > {max_char_frac}"
    return None


def dup_lines(p: Parsed, cfg: FilterConfig) -> str | None:
    r = cfg.gopher_repetition
    return _dup_share(p, "lines", r.max_dup_line_frac, r.max_dup_line_char_frac, "dup_lines", "dup_line_chars")


def dup_paragraphs(p: Parsed, cfg: FilterConfig) -> str | None:
    r = cfg.gopher_repetition
    return _dup_share(p, "paragraphs", r.max_dup_para_frac, r.max_dup_para_char_frac,
                      "dup_paragraphs", "dup_para_chars")


def _cached(p: Parsed, key: tuple, compute: Callable[[], object]):
    """A statistic of ``p`` that does not depend on a threshold, computed once (profiles re-check rules)."""
    if key not in p.extra:
        p.extra[key] = compute()
    return p.extra[key]


def _grams(p: Parsed, n: int):
    """Dense ids of the n-grams of the lowercased prose words (filters/repetition.py), each
    length built from the one before and kept."""
    ids = _cached(p, ("word_ids",), lambda: repetition.word_ids(_words_lower(p)))
    return _cached(p, ("grams", n), lambda: repetition.grams(ids, n, _grams(p, n - 1) if n > 1 else None))


def top_ngram(p: Parsed, cfg: FilterConfig) -> str | None:
    words = _words_lower(p)
    total = sum(map(len, words))
    if not total:
        return None
    for n, limit in sorted(cfg.gopher_repetition.top_ngram_max_frac.items()):
        if len(words) < n:
            continue
        gram, count = _cached(p, ("top_gram", n), lambda: repetition.top_gram(words, _grams(p, n), n))
        if count < 2:
            continue
        frac = sum(map(len, gram)) * count / total
        if frac > limit:
            return f"top_{n}gram={frac:.3f} > {limit} ({' '.join(gram)!r} x{count})"
    return None


def dup_ngram(p: Parsed, cfg: FilterConfig) -> str | None:
    words = _words_lower(p)
    total = sum(map(len, words))
    if not total:
        return None
    for n, limit in sorted(cfg.gopher_repetition.dup_ngram_max_frac.items()):
        if len(words) < n:
            continue
        frac = _cached(p, ("dup_gram", n), lambda: repetition.dup_gram_frac(words, _grams(p, n), n, total))
        if frac > limit:
            return f"dup_{n}gram={frac:.3f} > {limit}"
    return None


# -- C4 ----------------------------------------------------------------------------------------
def min_sentences(p: Parsed, cfg: FilterConfig) -> str | None:
    need = cfg.c4.min_sentences
    if need is None or _code_exempt(p, cfg):
        return None
    n = len(_SENTENCE_END.findall(p.prose))
    return f"sentences={n} < {need}" if n < need else None


def word_length(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.c4.max_word_length
    if limit is None or not p.prose_words:
        return None
    longest = max(map(len, p.prose_words))
    return f"longest_word={longest} > {limit}" if longest > limit else None


def lorem_ipsum(p: Parsed, cfg: FilterConfig) -> str | None:
    return "contains 'lorem ipsum'" if cfg.c4.lorem_ipsum and "lorem ipsum" in p.prose.lower() else None


def curly_bracket(p: Parsed, cfg: FilterConfig) -> str | None:
    if not cfg.c4.curly_bracket:
        return None
    prose = _LATEX_CMD_ARG.sub(" ", p.prose)
    i = prose.find("{")
    return f"'{{' in prose at {i}: {prose[max(0, i - 20):i + 20]!r}" if i >= 0 else None


def _line_ratio(p: Parsed, pred: Callable[[str], bool]) -> float:
    return sum(pred(ln.lower()) for ln in p.prose_lines) / len(p.prose_lines) if p.prose_lines else 0.0


def javascript(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.c4.max_javascript_lines_ratio
    if limit is None:
        return None
    r = _line_ratio(p, lambda ln: "javascript" in ln and _JS_NOTICE.search(ln) is not None)
    return f"javascript_lines={r:.3f} > {limit}" if r > limit else None


def policy(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.c4.max_policy_lines_ratio
    if limit is None:
        return None
    r = _line_ratio(p, lambda ln: any(k in ln for k in _POLICY))
    return f"policy_lines={r:.3f} > {limit}" if r > limit else None


# -- FineWeb -----------------------------------------------------------------------------------
def line_punct(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.fineweb.min_line_punct_ratio
    if limit is None or not p.prose_lines or _code_exempt(p, cfg):
        return None
    r = sum(ln.endswith(TERMINAL) for ln in p.prose_lines) / len(p.prose_lines)
    return f"line_punct={r:.3f} < {limit}" if r < limit else None


def short_lines(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.fineweb.max_short_line_ratio
    if limit is None or not p.prose_lines or _code_exempt(p, cfg):
        return None
    r = sum(len(ln) < 30 for ln in p.prose_lines) / len(p.prose_lines)
    return f"short_lines={r:.3f} > {limit}" if r > limit else None


def char_dup(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.fineweb.max_char_dup_ratio
    if limit is None or not p.prose_lines:
        return None
    _, _, chars, total = _dup_stats(p, "lines")
    r = chars / total if total else 0.0
    return f"char_dup={r:.3f} > {limit}" if r > limit else None


def list_ratio(p: Parsed, cfg: FilterConfig) -> str | None:
    limit = cfg.fineweb.max_newline_word_ratio
    if limit is None or not p.prose_words or _code_exempt(p, cfg):
        return None
    r = len(p.prose_lines) / len(p.prose_words)
    return f"lines/words={r:.3f} > {limit}" if r > limit else None


# Rules that need prose to measure; skipped below the profile's min_prose_words.
_NEED_PROSE = frozenset({"dup_lines", "dup_paragraphs", "top_ngram", "dup_ngram", "mean_word_length", "symbol_ratio",
                         "bullet_lines", "ellipsis_lines", "alpha_words", "stop_words", "min_sentences", "javascript",
                         "policy", "line_punct", "short_lines", "char_dup", "list_ratio"})

# Rules that are ratios over prose lines; skipped below the profile's min_prose_lines.
_NEED_LINES = frozenset({"bullet_lines", "ellipsis_lines", "javascript", "policy", "line_punct", "short_lines"})

# (group, name, function, config section that enables the group or None)
RULES: list[tuple[str, str, Rule, str | None]] = [
    ("binary", "binary", binary, None),
    ("gopher", "word_count", word_count, None),
    ("gopher_rep", "dup_lines", dup_lines, "gopher_repetition"),
    ("gopher_rep", "dup_paragraphs", dup_paragraphs, "gopher_repetition"),
    ("gopher_rep", "top_ngram", top_ngram, "gopher_repetition"),
    ("gopher_rep", "dup_ngram", dup_ngram, "gopher_repetition"),
    ("gopher", "mean_word_length", mean_word_length, "gopher"),
    ("gopher", "symbol_ratio", symbol_ratio, "gopher"),
    ("gopher", "bullet_lines", bullet_lines, "gopher"),
    ("gopher", "ellipsis_lines", ellipsis_lines, "gopher"),
    ("gopher", "alpha_words", alpha_words, "gopher"),
    ("gopher", "stop_words", stop_words, "gopher"),
    ("c4", "lorem_ipsum", lorem_ipsum, "c4"),
    ("c4", "curly_bracket", curly_bracket, "c4"),
    ("c4", "word_length", word_length, "c4"),
    ("c4", "min_sentences", min_sentences, "c4"),
    ("c4", "javascript", javascript, "c4"),
    ("c4", "policy", policy, "c4"),
    ("fineweb", "line_punct", line_punct, "fineweb"),
    ("fineweb", "short_lines", short_lines, "fineweb"),
    ("fineweb", "char_dup", char_dup, "fineweb"),
    ("fineweb", "list_ratio", list_ratio, "fineweb"),
]

# Rules whose detail names a more specific sub-rule (dup_lines may fail on line chars, etc.).
_SUB = re.compile(r"^(\w+)=")


def rule_failures(p: Parsed, cfg: FilterConfig, first_only: bool = False,
                  only: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """(reason, detail) of every rule ``p`` fails, in order (just the first with first_only;
    only the rules named in ``only`` when given)."""
    out = []
    short_prose = len(p.prose_words) < cfg.min_prose_words
    few_lines = len(p.prose_lines) < cfg.min_prose_lines
    for group, name, fn, section in RULES:
        if section is not None and not getattr(cfg, section).enabled:
            continue
        if (short_prose and name in _NEED_PROSE) or (few_lines and name in _NEED_LINES) or (only is not None and name not in only):
            continue
        detail = fn(p, cfg)
        if detail is not None:
            m = _SUB.match(detail)
            sub = m.group(1) if m and group == "gopher_rep" else name
            out.append(("filter:binary" if group == "binary" else f"filter:{group}:{sub}", detail))
            if first_only:
                break
    return out


def prefilter_failures(p: Parsed, cfg: FilterConfig) -> list[tuple[str, str]]:
    """The cheap checks that stay when a classifier judges: binary text, too few words, spam walls."""
    out = []
    for reason, fn in (("filter:binary", binary), ("filter:gopher:word_count", word_count)):
        detail = fn(p, cfg)
        if detail is not None:
            out.append((reason, detail))
    detail = spam_wall(p, cfg)
    if detail is not None:
        out.append((f"filter:spam_wall:{_SUB.match(detail).group(1)}", detail))
    return out


def _differing(web: FilterConfig, own: FilterConfig) -> frozenset[str]:
    """Names of the rules that can decide differently under ``own`` than under ``web``."""
    key = id(own)
    hit = _DIFF_CACHE.get(key)
    if hit is not None and hit[0] is own and hit[1] is web:
        return hit[2]
    gated = (own.min_prose_words != web.min_prose_words, own.min_prose_lines != web.min_prose_lines)
    names = set()
    for _, name, _, section in RULES:
        if ((section is not None and getattr(own, section) != getattr(web, section))
                or (gated[0] and name in _NEED_PROSE) or (gated[1] and name in _NEED_LINES)
                or own.min_words != web.min_words or own.code_exempt_frac != web.code_exempt_frac):
            names.add(name)
    out = frozenset(names)
    _DIFF_CACHE[key] = (own, web, out)
    return out


_DIFF_CACHE: dict[int, tuple[FilterConfig, FilterConfig, frozenset[str]]] = {}


def judge_rules(p: Parsed, cfg: FilterConfig, profile: str,
                first_only: bool = False) -> tuple[list[tuple[str, str]], list[str]]:
    """(failures under ``profile``'s rules, web rules the profile exempted ``p`` from).

    A failure's detail names the profile when it is not the web default; an exemption is the
    reason a web rule would have given (``filter:c4:curly_bracket``) that the profile's rules
    do not. ``first_only`` stops at the first failure where no profile applies (the web
    rules judge most documents, and a reject needs only one reason).
    """
    own = cfg.profile(profile)
    if own is cfg:
        return rule_failures(p, cfg, first_only=first_only), []
    fails = rule_failures(p, own)
    mine = {r for r, _ in fails}
    exempt = sorted({r for r, _ in rule_failures(p, cfg)} - mine)
    note = f"; exempt from {', '.join(exempt)}" if exempt else ""
    fails = [(r, f"{d} [profile {profile}{note}]") for r, d in fails]
    return fails, exempt


def check_rules(p: Parsed, cfg: FilterConfig) -> None:
    """Raise ``Reject(filter:<group>:<rule>, detail)`` at the first rule ``p`` fails."""
    fails = rule_failures(p, cfg, first_only=True)
    if fails:
        raise Reject(*fails[0])
