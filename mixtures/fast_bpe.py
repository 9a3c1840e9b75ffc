"""tiktoken's BPE engine for a byte-level BPE ``tokenizer.json``, giving HF tokenizers' ids.

Writing shards is mostly tokenisation, and HF ``tokenizers`` spends much of it building
``Encoding`` objects (token strings, offsets, masks) that the shards never use. tiktoken runs
the same byte-level BPE and returns only ids, about 2.4 times faster here. It is used only
for a tokenizer whose ids it reproduces; :func:`tiktoken_twin` checks the file and says why
not otherwise, and the caller then keeps HF ``tokenizers``:

* model: BPE, no dropout, no unknown token, no subword prefix or word suffix, no byte
  fallback; no normaliser;
* pre-tokeniser: ``ByteLevel`` with its regex and no prefix space, alone or after
  ``Digits(individual_digits=True)`` (the bundled tokenizer); the two become one tiktoken
  pattern in which a digit is a piece of its own and whitespace before a digit ends its run
  as the end of a piece does;
* merges ordered as ids: each merge makes a token with a larger id than the merge before it
  and than either part, so tiktoken's "lowest id first" is HF's "earliest merge first";
* every merged token, BPE-encoded alone by HF, is itself (tiktoken looks a whole piece up
  before merging; HF's ``ignore_merges`` does the same, so then this is not needed);
* added tokens match exactly (no strip, not single-word); they are split off first by both.

Unicode tables: the two engines classify a few code points above U+FFFF differently (digits
that Unicode assigned after tiktoken's regex tables, U+11DE0..U+11DE9, U+16FF4..U+16FF6 with
tokenizers 0.23 and tiktoken 0.14, both pinned in constraints.txt), so :func:`needs_hf`
sends a text holding any code point above U+FFFF to HF. Every code point of the Basic
Multilingual Plane, in several contexts, is tested to give the same ids on both.
"""

from __future__ import annotations

import hashlib
import json
import os

BYTE_LEVEL_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""HF ``ByteLevel``'s split (GPT-2's)."""

DIGITS_BYTE_LEVEL_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+"""
"""``Digits(individual_digits=True)`` then ``ByteLevel`` as one split: a digit alone, and a run of
whitespace that a digit follows taken whole (the digit split ended its piece there)."""


def byte_level_alphabet() -> dict[str, int]:
    """The character ``ByteLevel`` writes for each byte (GPT-2's printable mapping), inverted."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return {c: b for b, c in chars.items()}


def _byte_level_to_latin1() -> dict[int, str]:
    """A ``str.translate`` table: each ByteLevel character to the Latin-1 character of its byte,
    every other character below U+0100 to one Latin-1 cannot encode (so it is refused)."""
    table = {c: "\uffff" for c in range(256)}
    table.update({ord(c): chr(b) for c, b in byte_level_alphabet().items()})
    return table


def _pattern(pre: dict | None) -> str | None:
    def byte_level(p):
        return (p.get("type") == "ByteLevel" and p.get("use_regex", True) and not p.get("add_prefix_space", True))

    if pre is None:
        return None
    if byte_level(pre):
        return BYTE_LEVEL_PATTERN
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if (steps and len(steps) == 2 and steps[0].get("type") == "Digits" and steps[0].get("individual_digits")
            and byte_level(steps[1])):
        return DIGITS_BYTE_LEVEL_PATTERN
    return None


def _merge_pairs(merges: list) -> list[tuple[str, str]]:
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else (m[0], m[1]) for m in merges]


_TWINS: dict[str, tuple] = {}  # sha256 of a tokenizer file -> (tiktoken Encoding or None, why not)


def tiktoken_twin(path: str, hf_tokenizer, threads: int | None = None):
    """``(FastBPE, "")`` when tiktoken reproduces ``hf_tokenizer``'s ids for ``path``, else ``(None, why)``.

    ``hf_tokenizer`` must be loaded from ``path``. The verdict is kept per file content for the
    life of the process (the mix step's driver and its DoFns load the same file).
    """
    with open(path, "rb") as f:
        raw = f.read()
    key = hashlib.sha256(raw).hexdigest()
    if key not in _TWINS:
        _TWINS[key] = _twin(json.loads(raw), hf_tokenizer, os.path.basename(path))
    enc, why = _TWINS[key]
    return (FastBPE(enc, threads) if enc is not None else None), why


def _twin(spec: dict, hf_tokenizer, name: str):
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        return None, f"model is {model.get('type')}, not BPE"
    for key in ("dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            return None, f"BPE sets {key}"
    if model.get("byte_fallback"):
        return None, "BPE uses byte_fallback"
    if spec.get("normalizer") is not None:
        return None, "the tokenizer has a normalizer"
    pattern = _pattern(spec.get("pre_tokenizer"))
    if pattern is None:
        return None, "the pre-tokenizer is not ByteLevel (optionally after individual Digits)"
    added = spec.get("added_tokens") or []
    for t in added:
        if t.get("lstrip") or t.get("rstrip") or t.get("single_word"):
            return None, f"added token {t.get('content')!r} strips or matches single words"
    special = {t["content"]: hf_tokenizer.token_to_id(t["content"]) for t in added}  # the ids HF gives them
    to_latin1 = _byte_level_to_latin1()
    vocab: dict[str, int] = model.get("vocab") or {}
    ranks: dict[bytes, int] = {}
    for tok, i in vocab.items():
        if tok in special:
            continue
        try:
            ranks[tok.translate(to_latin1).encode("latin-1")] = int(i)
        except UnicodeEncodeError:
            return None, f"vocabulary entry {tok!r} is not byte-level"
    if len(set(ranks.values())) != len(ranks) or set(ranks.values()) & set(special.values()):
        return None, "token ids are not unique (vocabulary entries or added tokens share one)"
    if len({r for b, r in ranks.items() if len(b) == 1}) != 256:
        return None, "the vocabulary lacks some of the 256 byte tokens"
    last = -1
    for a, b in _merge_pairs(model.get("merges") or []):
        made = vocab.get(a + b)
        if made is None or made <= last or made <= vocab.get(a, made) or made <= vocab.get(b, made):
            return None, f"merge {a!r} + {b!r} is out of id order"
        last = made
    if not model.get("ignore_merges"):
        bpe = hf_tokenizer.model
        for tok, i in vocab.items():
            if tok not in special and len(tok) > 1 and [t.id for t in bpe.tokenize(tok)] != [i]:
                return None, f"token {tok!r} is not what BPE makes of its own text"
    import tiktoken

    return tiktoken.Encoding(f"curate-{name}", pat_str=pattern, mergeable_ranks=ranks, special_tokens=special), ""


def default_threads() -> int:
    """What HF tokenizers would use: ``RAYON_NUM_THREADS``, one if parallelism is off, else every core."""
    if os.environ.get("TOKENIZERS_PARALLELISM", "").lower() in ("0", "false", "off", "no"):
        return 1
    n = os.environ.get("RAYON_NUM_THREADS") or os.environ.get("RAYON_RS_NUM_CPUS")
    return int(n) if n and n.isdigit() and int(n) > 0 else (os.cpu_count() or 1)


def needs_hf(text: str) -> bool:
    """True for a text with a code point above U+FFFF, where the engines' Unicode tables may differ."""
    return not str.isascii(text) and max(text) > "\uffff"


class FastBPE:
    """A tiktoken ``Encoding`` standing in for one HF tokenizer (built by :func:`tiktoken_twin`)."""

    def __init__(self, encoding, threads: int | None = None):
        self.encoding = encoding
        self.threads = threads or default_threads()

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, added tokens matched wherever they occur (as HF does)."""
        return self.encoding.encode_batch(texts, num_threads=self.threads, allowed_special="all")
