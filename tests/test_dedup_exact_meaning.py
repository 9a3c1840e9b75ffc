"""Exact dedup keeps meaning: it folds case, whitespace and Unicode forms, never operators,
signs, decimal points, brackets or line structure (the texts in each DIFFERENT pair used to
hash equal because every punctuation character became a space)."""

import apache_beam as beam
import pytest

from curate.dedup.config import DedupConfig
from curate.dedup.exact import exact_key
from curate.dedup.normalize import exact_hash
from curate.pipelines.dedup import Deduplicate
from curate.io.doc_shards import list_shards, read_shard
from curate.pipelines.runner import Counted, StepGraph, run_step
from curate.schema import new_document

DIFFERENT = [  # (a, b): different meaning, must never be exact duplicates
    ("x = a - b", "x = a b"),
    (r"e^{-i\pi} = -1", r"e^{i\pi} = 1"),
    ("if x != y", "if x = y"),
    ("2.5", "2,5"),
    ("(a + b) * c", "a + b * c"),
    ("for x in xs:\n    f(x)\n    g()", "for x in xs:\n    f(x)\ng()"),  # indentation is Python syntax
]

SAME = [  # (a, b): the same text, must be exact duplicates
    ("The Cat Sat on THE mat", "the cat sat on the mat"),  # case
    ("the  cat \t sat\n", "the cat sat"),  # runs of spaces/tabs inside a line, trailing newline
    ("line one   \nline two  ", "line one\nline two"),  # trailing spaces
    ("first line\r\nsecond line\r\n", "first line\nsecond line\n"),  # CRLF vs LF
    ("para one\n\n\n\npara two", "para one\n\npara two"),  # runs of blank lines
    ("ｘ ＝ －１．５", "x = -1.5"),  # full-width forms (NFKC)
    ("ﬁne\u00a0print", "fine print"),  # ligature, non-breaking space (NFKC)
    ("x \u2212 1 \u2013 2 \u2014 3", "x - 1 - 2 - 3"),  # minus sign, en/em dash → hyphen-minus
    ("\u201cdon\u2019t\u201d", "\"don't\""),  # curly quotes → straight
]


@pytest.mark.parametrize("a,b", DIFFERENT)
def test_different_meaning_is_not_an_exact_duplicate(a, b):
    assert exact_hash(a) and exact_hash(b)
    assert exact_hash(a) != exact_hash(b)
    assert exact_key({"text": a}) != exact_key({"text": b})


@pytest.mark.parametrize("a,b", SAME)
def test_true_duplicates_still_merge(a, b):
    assert exact_hash(a) and exact_hash(a) == exact_hash(b)


def test_nothing_to_compare_has_no_key():
    assert exact_hash(None) == exact_hash("") == exact_hash(" \n\t ") == ""


def _run_exact_only(tmp_path, docs):
    def build(p):
        inp = p | beam.Create(docs)
        res = inp | Deduplicate(DedupConfig(minhash=False))
        return StepGraph([Counted("dedup", inp, res["docs"], res["rejects"])], res["docs"], res["rejects"], res["stats"])

    out, _ = run_step("dedup", "k", str(tmp_path / "out"), build, [], 2, log=lambda _: None)
    kept = [x for s in list_shards(f"{out}/docs") for x in read_shard(s)]
    rejects = [x for s in list_shards(f"{out}/rejects") for x in read_shard(s)]
    return kept, rejects


def test_pipeline_exact_key_keeps_meaning(tmp_path):
    """The Deduplicate step hashes the same normalisation: DIFFERENT pairs all kept, SAME pairs one each."""
    docs = [new_document(source="t", uri=f"d{i}-{j}", format="text", text=t)
            for i, pair in enumerate(DIFFERENT + SAME) for j, t in enumerate(pair)]
    assert len({exact_hash(t) for pair in DIFFERENT + SAME for t in pair}) == 2 * len(DIFFERENT) + len(SAME)
    kept, rejects = _run_exact_only(tmp_path, docs)
    assert len(kept) + len(rejects) == len(docs)
    assert sorted(r["uri"].split("-")[0] for r in rejects) == sorted(f"d{len(DIFFERENT) + i}" for i in range(len(SAME)))
    assert all(r["reason"] == "dedup:exact" for r in rejects)


def test_the_lazy_tables_fold_every_code_point_as_the_category_rules_say():
    """Built as characters are met, the tables agree with a rule applied to all of Unicode."""
    import sys
    import unicodedata

    from curate.dedup import normalize as n

    text = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp < 0xE000)
    punct = {cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")}
    dashes = {cp: "-" for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Pd"}
    exact = dashes | {0x2212: "-"} | str.maketrans("‘’‚‛′‹›“”„‟«»", "'''''''\"\"\"\"\"\"")
    assert text.translate(n._PUNCT_TABLE) == text.translate(punct)
    assert text.translate(n._EXACT_TABLE) == text.translate(exact)
