"""The numpy n-gram repetition statistics (filters/repetition.py) give exactly the values of
the pure-Python rules they replaced (kept here as the reference)."""

from collections import Counter

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from curate.filters.repetition import dup_gram_frac, grams, top_gram, word_ids


def ref_top_gram(words, n):
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1)).most_common(1)[0]


def ref_dup_gram_frac(words, n, total):
    seen = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        g = tuple(words[i:i + n])
        if g in seen:
            for j in range(i, i + n):
                covered[j] = True
        else:
            seen.add(g)
    return sum(len(w) for w, c in zip(words, covered) if c) / total


# few distinct words, so n-grams repeat; some long, some one letter; unicode too
_WORDS = st.lists(st.sampled_from(["a", "the", "cat", "sat", "on", "mat", "élan", "x" * 40, "数学", "b"]),
                  min_size=1, max_size=300)


@settings(max_examples=300, deadline=None)
@given(_WORDS, st.integers(min_value=1, max_value=10))
def test_vectorised_ngram_rules_equal_the_reference(words, n):
    assume(len(words) >= n)
    g = grams(word_ids(words), n)
    total = sum(len(w) for w in words)
    assert top_gram(words, g, n) == ref_top_gram(words, n)
    assert dup_gram_frac(words, g, n, total) == ref_dup_gram_frac(words, n, total)


def test_on_real_prose_and_ties():
    words = ("one two three one two three four five one two three " * 7 + "end of the page").split()
    ids = word_ids(words)
    total = sum(map(len, words))
    g = None
    for n in range(1, 11):
        g = grams(ids, n, g)  # built from the shorter grams, as the rules do
        assert top_gram(words, g, n) == ref_top_gram(words, n)
        assert dup_gram_frac(words, g, n, total) == ref_dup_gram_frac(words, n, total)
    tie = "b a a b".split()  # 'b' and 'a' both twice: the first to appear wins, as with Counter
    assert top_gram(tie, grams(word_ids(tie), 1), 1) == (("b",), 2)
