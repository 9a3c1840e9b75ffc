"""Turning HTML bytes into text: BOM, HTTP header, <meta charset>, UTF-8, then detection.

A declared charset can lie. A multi-byte one (UTF-8, Shift_JIS…) usually shows it: the bytes
do not decode and the next candidate is tried. A single-byte one (ISO-8859-*, windows-125*,
KOI8…) decodes any bytes, so a lie gives mojibake ("cafÃ©", "Ïðèâåò") and no error. Text
decoded with a declared single-byte charset is therefore checked (``_overrule``):

* bytes that are valid UTF-8 with non-ASCII characters are UTF-8 (single-byte text practically
  never forms valid UTF-8 sequences);
* under an ``iso-8859-1`` label, bytes 0x80-0x9F are read as windows-1252, as browsers do
  (WHATWG); that is not a conflict;
* otherwise the words holding non-ASCII bytes are scored with charset-normalizer's mess
  ratio. When the declared decoding reads as noise, every web single-byte code page is tried
  on the same words and one that reads cleanly and is clearly ahead of the others is used;
  when none is, the declared one is kept and the conflict still recorded.

``decode_page`` returns the decision; its ``conflict`` is set whenever a declared charset (the
first one: HTTP header, else ``<meta>``) was overruled or did not decode::

    {"declared": "iso8859-1", "from": "meta", "used": "cp1251", "why": "implausible text"}

(``why``: ``valid UTF-8``, ``implausible text``, ``implausible text, no clear alternative``,
``does not decode``), for extractors to record as ``meta["charset_conflict"]``.
``decode_html`` is the (text, encoding) shorthand. Known limit: a lie between two Latin code
pages (Turkish or Baltic text under a Western label) changes a few letters that still read as
text and is not caught.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import charset_normalizer
from charset_normalizer.md import mess_ratio

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
# Words (runs between spaces and markup punctuation) that hold a non-ASCII byte: the part of
# a page on which a wrong single-byte charset shows; markup and ASCII text say nothing.
_NON_ASCII_WORD = re.compile(rb"""[^\s<>"'=&;]*[\x80-\xff][^\s<>"'=&;]*""")
_SAMPLE_WORDS = 2000
# A decoding whose mess ratio (charset-normalizer's measure: accents piled in words, mixed
# scripts, symbols and control characters inside words…) is above IMPLAUSIBLE reads as noise:
# Cyrillic, Greek, Hebrew or Central European text under a Western label scores 1 or more,
# honest text up to about 0.25 (accent-heavy Polish). Another encoding replaces the declared
# one only when its ratio on the same words is at most CLEAN and it is clearly the best one
# (see ``_overrule``).
IMPLAUSIBLE = 0.5
CLEAN = 0.1
MIN_NON_ASCII = 8  # fewer non-ASCII bytes in the sample: too little evidence to judge a label
# Single-byte encodings met on the web (WHATWG's list, less the Mac ones): the candidates for
# text whose single-byte label lied.
_WEB_SINGLE_BYTE = [
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "cp874",
    "koi8_r", "koi8_u", "cp866", *(f"iso8859_{i}" for i in (2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16)),
]


@dataclass(frozen=True)
class Decoded:
    """Decoded page text, the codec used and, when a declared charset was not used, why."""

    text: str
    encoding: str
    conflict: dict[str, str] | None = None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


@lru_cache(maxsize=None)
def single_byte(codec: str) -> bool:
    """Whether ``codec`` maps each byte to at most one character on its own (so any bytes
    decode); multi-byte codecs join a high byte with the next one, Unicode codecs are excluded."""
    if codec.startswith(("utf", "ucs")) or "2022" in codec:
        return False
    try:
        for b in range(0x80, 0x100):
            if len(bytes([b, 0xA1]).decode(codec, "replace")) != 2:
                return False
    except (LookupError, TypeError):
        return False
    return True


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM shows NUL in every other byte of ASCII markup."""
    sample = data[:4096]
    if len(sample) < 8:
        return None
    even_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
    odd_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _mess(sample: bytes, codec: str) -> float:
    try:
        return mess_ratio(sample.decode(codec), 1.0)
    except (UnicodeDecodeError, LookupError):
        return float("inf")


def _sample(data: bytes, codec: str) -> bytes:
    """The words of ``data`` with non-ASCII bytes that, decoded with ``codec``, are at least
    half letters, one of them lower-case: all-capital words and runs of symbols (©, €, ½, ²)
    make honest text look messy, while a wrong charset shows in running text (mojibake keeps
    the case of the true letters, and most of them stay letters)."""
    words = []
    for w in _NON_ASCII_WORD.finditer(data, 0, min(len(data), 2_000_000)):
        word = w.group().decode(codec, "replace")
        if any(c.islower() for c in word) and 2 * sum(c.isalpha() for c in word) >= len(word):
            words.append(w.group())
            if len(words) >= _SAMPLE_WORDS:
                break
    return b" ".join(words)


def _script(c: str) -> str:
    try:
        return unicodedata.name(c).split(" ", 1)[0]
    except ValueError:
        return "?"


def _mixed_script_words(text: str) -> int:
    """Words whose letters come from more than one script (LATIN, CYRILLIC, ARABIC…)."""
    return sum(len({_script(c) for c in w if c.isalpha()}) > 1 for w in text.split())


def _overrule(data: bytes, declared: str) -> tuple[str, str | None] | None:
    """(codec, why) to use instead of ``declared`` (a single-byte codec that decodes ``data``)
    when the decoded text is implausible; codec is ``declared`` itself when no alternative is
    clear, why is None for windows-1252 under an iso-8859-1 label (no conflict: the web's
    meaning of that label). None: the text is plausible."""
    if not re.search(rb"[\x80-\xff]", data):
        return None  # ASCII reads the same in every single-byte charset
    try:
        data.decode("utf-8")
        return "utf-8", "valid UTF-8"  # real single-byte text practically never is
    except UnicodeDecodeError:
        pass
    label = declared
    if declared == "iso8859-1" and re.search(rb"[\x80-\x9f]", data):
        try:  # the web's "iso-8859-1" is windows-1252 (WHATWG); C1 controls are not text
            data.decode("cp1252")
            declared = "cp1252"
        except UnicodeDecodeError:
            pass
    plausible = None if declared == label else ("cp1252", None)
    sample = _sample(data, declared)
    if sum(1 for b in sample if b >= 0x80) < MIN_NON_ASCII:
        return plausible
    declared_mess = _mess(sample, declared)
    if declared_mess <= IMPLAUSIBLE:
        return plausible
    # Every web single-byte code page that decodes the words cleanly, grouped by the text it
    # gives (code pages that agree on these bytes are one candidate). Ranked by words mixing
    # scripts ("üشد"), then non-ASCII characters that are not letters (a neighbouring code page
    # puts symbols or controls where the true one has letters), then mess, then
    # charset-normalizer's language coherence; short samples
    # often fit several code pages equally (Cyrillic, Greek, Hebrew in each other's), so the
    # first is taken only when it is strictly ahead of the second.
    coherence = {}
    for match in charset_normalizer.from_bytes(sample, cp_isolation=_WEB_SINGLE_BYTE):
        for name in match.could_be_from_charset:
            coherence[_codec(name)] = match.coherence
    groups: dict[str, tuple[tuple[int, int, float, float], str]] = {}
    for name in _WEB_SINGLE_BYTE:
        codec = _codec(name)
        if codec in (declared, label):
            continue
        try:
            text = sample.decode(codec)
        except UnicodeDecodeError:
            continue
        m = mess_ratio(text, 1.0)
        if m > min(CLEAN, declared_mess / 2) or text in groups:
            continue
        odd = sum(1 for c in text if ord(c) > 0x7F and not c.isalpha() and not unicodedata.combining(c))
        groups[text] = ((_mixed_script_words(text), odd, m, -coherence.get(codec, 0.0)), codec)
    ranked = sorted(groups.values())
    if ranked and (len(ranked) == 1 or ranked[0][0] < ranked[1][0]):
        try:
            data.decode(ranked[0][1])
            return ranked[0][1], "implausible text"
        except UnicodeDecodeError:
            pass
    return declared, "implausible text, no clear alternative"


def decode_page(data: bytes, declared: str | None = None) -> Decoded:
    """Decode page bytes (``declared``: the HTTP header's charset, if any). Never raises on bad bytes."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom):].decode(enc, "replace"), enc)
    utf16 = _utf16_without_bom(data)
    if utf16:
        return Decoded(data.decode(utf16, "replace"), utf16)
    labels: list[tuple[str, str]] = []  # (where it was declared, codec)
    m = _META_CHARSET.search(data[:4096])
    for where, label in (("http", declared), ("meta", m.group(1).decode("ascii", "ignore") if m else None)):
        codec = _codec(label)
        if codec:
            labels.append((where, codec))

    def conflict(where: str, declared: str, used: str, why: str) -> dict[str, str]:
        return {"declared": declared, "from": where, "used": used, "why": why}

    for where, enc in [*labels, ("", "utf-8")]:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if enc != "utf-8" and single_byte(enc):
            verdict = _overrule(data, enc)
            if verdict:
                used, why = verdict
                text = text if used == enc else data.decode(used)
                return Decoded(text, used, conflict(where, enc, used, why) if why else None)
        break
    else:
        best = charset_normalizer.from_bytes(data[:200_000]).best()
        enc = (_codec(best.encoding) if best is not None else None) or "cp1252"
        text = data.decode(enc, "replace")
    if labels and labels[0][1] != enc:
        return Decoded(text, enc, conflict(*labels[0], enc, "does not decode"))
    return Decoded(text, enc)


def decode_html(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns (text, encoding used). Never raises on bad bytes."""
    d = decode_page(data, declared)
    return d.text, d.encoding
