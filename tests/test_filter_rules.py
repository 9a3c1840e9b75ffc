"""Each heuristic rule with a document that passes and one that fails; math and code exemptions."""

import pytest

from curate.errors import Reject
from curate.filters import rules
from curate.filters.config import FilterConfig
from curate.filters.domain import signal_domain
from curate.filters.text import parse

CFG = FilterConfig()

GOOD = """# How the harbour ferry changed the town

When the harbour ferry started running again last spring, few people expected that it would change the
rhythm of the whole town. Commuters who used to drive around the bay now cross the water in twenty minutes,
and the cafés near the pier have extended their opening hours to catch the early crowd.

The council measured traffic on the coastal road before and after the service resumed. According to its
report, congestion during the morning peak fell by almost a third, while the number of cyclists arriving at
the ferry terminal doubled. Local shopkeepers say that the new visitors spend more time in the old quarter.

Not everyone is pleased with the change. Residents of the narrow streets above the harbour complain about
noise from the terminal, and some fishermen worry that the larger boats disturb the moorings. The council
has promised a review of the timetable in the autumn, with a public meeting for anyone who wants to speak.
"""

MATH = r"""# The quadratic formula

Every quadratic equation $ax^2 + bx + c = 0$ with $a \neq 0$ has the solutions

$$x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}$$

The quantity $\Delta = b^2 - 4ac$ is the discriminant. When $\Delta > 0$ there are two real roots, when
$\Delta = 0$ there is one, and when $\Delta < 0$ the roots are complex conjugates $z$ and $\bar{z}$.
Vieta's formulas give $x_1 + x_2 = -\frac{b}{a}$ and $x_1 x_2 = \frac{c}{a}$, and the vertex of the
parabola lies at $x = -\frac{b}{2a}$, which is the average of the roots.

$$\sum_{k=1}^{n} \binom{n}{k} x^k = (1+x)^n - 1 \qquad \int_0^1 x^{n}\,dx = \frac{1}{n+1}$$

$$\det\begin{pmatrix} a & b \\ c & d \end{pmatrix} = ad - bc, \quad \#\{ (i,j) : i<j \} = \binom{n}{2}$$

We check the formula on $x^2 - 5x + 6 = 0$: here $\Delta = 1$, so $x = \frac{5 \pm 1}{2}$, giving $2$ and $3$.
"""

CODE = """Binary search

```python
def binary_search(items, target):
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1

def count_words(path):
    counts = {}
    with open(path) as handle:
        for line in handle:
            for word in line.split():
                counts[word] = counts.get(word, 0) + 1
    return counts
```
"""


def _fails(text, **over):
    cfg = CFG.model_copy(update=over) if over else CFG
    return [reason for reason, _ in rules.rule_failures(parse(text), cfg)]


def test_good_prose_passes_every_rule():
    assert _fails(GOOD) == []


LINES = "\n".join(f"Line number {w} of this list talks about something else entirely." for w in
                  ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])

FAILING = {
    "filter:gopher:word_count": "Too short to be a page. It has a few words only.",
    "filter:gopher:mean_word_length": GOOD + "\n\n" + " ".join(["a b c d e f g h i j"] * 1) + " " + " ".join(
        f"x{i % 10}" for i in range(400)),
    "filter:gopher:symbol_ratio": GOOD + "\n\n" + " ".join(f"#tag{i} #more{i}" for i in range(30)),
    "filter:gopher:bullet_lines": "\n".join(f"- item {w} is on sale today and tomorrow for the whole family to enjoy."
                                            for w in GOOD.split()[:40]),
    "filter:gopher:ellipsis_lines": "\n".join(f"Read more about {w} and the other stories of the week ..."
                                              for w in GOOD.split()[:40]),
    "filter:gopher:alpha_words": GOOD + "\n\n" + " ".join(f"{i}.{i * 7} -- {i * 3}" for i in range(120)),
    "filter:gopher:stop_words": " ".join(f"Ferry{i} terminal café harbour commuters cyclists shopkeepers." for i in range(20)),
    "filter:gopher_rep:dup_lines": GOOD + "\n" + "\n".join(["Share this article with your friends today."] * 30),
    "filter:gopher_rep:dup_paragraphs": "\n\n".join([GOOD.split("\n\n")[1]] * 4 + [GOOD.split("\n\n")[2]]),
    "filter:gopher_rep:top_2gram": GOOD + "\n\n" + " ".join(["harbour ferry"] * 120) + ".",
    "filter:gopher_rep:dup_5gram": GOOD + "\n\n" + " ".join(
        ["the ferry crossed the bay in twenty minutes and then"] * 3) + " " + GOOD.replace("\n", " "),
    "filter:c4:lorem_ipsum": GOOD + "\n\nLorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "filter:c4:curly_bracket": GOOD + "\n\nvar config = {debug: true};",
    "filter:c4:word_length": GOOD + "\n\n" + "x" * 1200,
    "filter:c4:min_sentences": " ".join(f"ferry and the harbour of the town with {w}" for w in GOOD.split()[:20]),
    "filter:c4:javascript": GOOD.replace("\n\n", "\n\nPlease enable JavaScript in your browser to view this page.\n\n"),
    "filter:c4:policy": GOOD.replace("\n\n", "\n\nThis site uses cookies. Read our privacy policy.\n\n"),
    "filter:fineweb:line_punct": "\n".join(f"the harbour ferry and the town with its {w} and more things to see"
                                           for w in GOOD.split()[:30]),
    "filter:fineweb:short_lines": GOOD + "\n" + "\n".join(f"Item {w}." for w in GOOD.split()[:80]),
    "filter:fineweb:char_dup": GOOD + "\nSubscribe to our newsletter.\nSubscribe to our newsletter.",
    "filter:fineweb:list_ratio": GOOD + "\n" + "\n".join(f"{w} {w}." for w in GOOD.split()[:140]),
}


@pytest.mark.parametrize("reason", sorted(FAILING))
def test_rule_fails_its_document(reason):
    fails = _fails(FAILING[reason])
    assert reason in fails, fails


@pytest.mark.parametrize("reason", sorted(FAILING))
def test_rule_can_be_switched_off(reason):
    group, name = reason.split(":")[1:]
    section = {"gopher": "gopher", "gopher_rep": "gopher_repetition", "c4": "c4", "fineweb": "fineweb"}[group]
    if name == "word_count":
        assert reason not in _fails(FAILING[reason], min_words=0)
        return
    off = getattr(CFG, section).model_copy(update={"enabled": False})
    assert not any(r.startswith(f"filter:{group}:") for r in _fails(FAILING[reason], **{section: off}))


def test_reject_names_rule_and_score():
    with pytest.raises(Reject) as e:
        rules.check_rules(parse("Too short to be a page. It has a few words only."), CFG)
    assert e.value.reason == "filter:gopher:word_count"
    assert e.value.detail == "words=12 < 50"


def test_latex_dense_page_passes_symbol_and_alpha_rules():
    p = parse(MATH)
    assert p.math_spans >= 10 and p.math_frac > 0.3
    assert rules.symbol_ratio(p, CFG) is None
    assert rules.alpha_words(p, CFG) is None
    assert rules.curly_bracket(p, CFG) is None
    assert _fails(MATH) == []
    # the same characters read as prose (no math delimiters) fail: the exemption is what saves it
    raw = MATH.replace("$", " ")
    assert {"filter:gopher:alpha_words", "filter:c4:curly_bracket"} & set(_fails(raw))


def test_code_page_passes_stop_word_and_prose_rules():
    p = parse(CODE)
    assert p.code_blocks == 1 and p.code_frac > 0.9
    assert rules.stop_words(p, CFG) is None
    assert _fails(CODE) == []
    # without the fence the same text is prose and fails
    assert set(_fails(CODE.replace("```python", "").replace("```", ""))) & {
        "filter:gopher:stop_words", "filter:c4:curly_bracket", "filter:fineweb:line_punct"}


def test_code_exemption_threshold():
    p = parse(CODE)
    strict = CFG.model_copy(update={"code_exempt_frac": 1.0})
    assert rules.stop_words(p, strict) is not None
    assert rules.stop_words(p, CFG) is None


def test_inline_math_and_currency():
    p = parse("It costs $5 and $10 today, while $x^2$ is a formula and \\(y\\) another.")
    assert p.math_spans == 2
    assert "$5" in p.prose


def test_signal_domain():
    assert signal_domain(parse(MATH), CFG.domain) == "math"
    assert signal_domain(parse(CODE), CFG.domain) == "code"
    assert signal_domain(parse(GOOD), CFG.domain) == "general"
