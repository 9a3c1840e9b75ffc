"""Generated, labelled pages for the filter tests and benchmarks/filters.py.

High-quality pages: explanatory prose, math derivations with LaTeX, code tutorials with
fenced code. Low-quality pages: spam, keyword stuffing, navigation/boilerplate lists, word
salad drawn from the *same* vocabulary as the good pages (so vocabulary alone does not
separate them), and thin pages (a good paragraph buried in chrome). Each page carries a
0–5 score (high: 3–5, low: 0–2) for the LM classifier. Deterministic for a seed.
"""

from __future__ import annotations

import random

TOPICS = [
    ("prime numbers", "a prime number has exactly two divisors"), ("the derivative", "the derivative measures the rate of change"),
    ("binary search", "binary search halves the interval at each step"), ("hash tables", "a hash table maps keys to buckets"),
    ("probability", "probability assigns a number between zero and one to each event"),
    ("linear equations", "a linear equation describes a straight line"), ("recursion", "a recursive function calls itself on a smaller input"),
    ("matrices", "a matrix represents a linear map"), ("sorting", "a sorting algorithm puts items in order"),
    ("integrals", "the integral accumulates a quantity over an interval"), ("graphs", "a graph consists of vertices joined by edges"),
    ("logarithms", "the logarithm is the inverse of exponentiation"),
]
EXPLAIN = [
    "To see why, consider {x}.", "This matters because {x}.", "A useful way to think about it is that {x}.",
    "We can check this claim carefully: {x}.", "In other words, {x}.", "The key observation is that {x}.",
    "It follows that {x}, which is what we wanted to show.", "Notice that {x}; the rest of the argument depends on it.",
    "Students often forget that {x}.", "Let us verify this with a small example where {x}.",
    "Why should this be true? Because {x}.", "A careful reader will ask whether {x}; it does.",
    "Here is the crux: {x}.", "Experience with many exercises shows that {x}.",
]
FACTS = [
    "each step reduces the problem to a smaller one", "the result does not depend on the order of the terms",
    "the bound is tight for the worst case", "the invariant holds before and after every iteration",
    "the function is continuous on the closed interval", "both sides of the equation have the same units",
    "the sequence converges because it is monotone and bounded", "the algorithm runs in logarithmic time",
    "every case has been covered exactly once", "the identity holds for all real values of the variable",
    "the error shrinks by a constant factor in each round", "the two definitions agree on every input",
    "adding one more element never breaks the property", "the proof uses induction on the length of the list",
    "a counterexample appears as soon as the assumption is dropped", "memory use stays constant as the input grows",
]
FORMULAS = [
    r"f'(x) = \lim_{h \to 0} \frac{f(x+h) - f(x)}{h}", r"\sum_{k=1}^{n} k = \frac{n(n+1)}{2}", r"\log_b(xy) = \log_b x + \log_b y",
    r"P(A \cup B) = P(A) + P(B) - P(A \cap B)", r"\int_a^b f(x)\,dx = F(b) - F(a)", r"(AB)^T = B^T A^T",
    r"a^2 + b^2 = c^2", r"\binom{n}{k} = \frac{n!}{k!(n-k)!}", r"e^{x} = \sum_{n=0}^{\infty} \frac{x^n}{n!}",
]
INLINE = [r"n \ge 1", r"x > 0", r"h \to 0", r"k = 1", r"0 \le p \le 1", r"f(x) = x^2", r"a \ne 0", r"\epsilon > 0"]
CODE = [
    ("python", "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a"),
    ("python", "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n        if n % i == 0:\n            return False\n        i += 1\n    return True"),
    ("javascript", "function sum(xs) {\n  let total = 0;\n  for (const x of xs) {\n    total += x;\n  }\n  return total;\n}"),
    ("c", "int max(int *a, int n) {\n    int m = a[0];\n    for (int i = 1; i < n; i++)\n        if (a[i] > m) m = a[i];\n    return m;\n}"),
    ("rust", "fn fib(n: u64) -> u64 {\n    match n {\n        0 | 1 => n,\n        _ => fib(n - 1) + fib(n - 2),\n    }\n}"),
]
SPAM = ["buy now", "cheap", "best price", "click here", "free shipping", "limited offer", "casino", "win big",
        "discount", "hot deal", "sign up today", "exclusive bonus", "act fast", "lowest price online"]
NAV = ["Home", "About", "Contact", "Login", "Register", "Privacy Policy", "Terms of Use", "Sitemap", "Careers",
       "Blog", "Shop", "Cart", "Help", "FAQ", "Subscribe", "Advertise", "Newsletter", "Archive"]


class _Sentences:
    """Explanatory sentences for one page, each template and fact used at most once (no repetition)."""

    def __init__(self, rng: random.Random):
        self.templates = rng.sample(EXPLAIN, len(EXPLAIN))
        self.facts = rng.sample(FACTS, len(FACTS))

    def next(self) -> str:
        return self.templates.pop().format(x=self.facts.pop()) if self.templates and self.facts else ""


def _para(rng: random.Random, topic: tuple[str, str], n: int, sents: _Sentences | None = None, opening: bool = True) -> str:
    name, claim = topic
    sents = sents or _Sentences(rng)
    out = [f"In this section we study {name}, and the central idea is simple: {claim}."] if opening else []
    out += [sents.next() for _ in range(n)]
    return " ".join(x for x in out if x)


def good_page(rng: random.Random) -> tuple[str, str]:
    """(kind, Markdown) of a well-written explanatory page: prose, math or code."""
    topic = rng.choice(TOPICS)
    kind = rng.choice(["prose", "math", "code"])
    sents = _Sentences(rng)
    parts = [f"# Understanding {topic[0]}", _para(rng, topic, rng.randint(4, 6), sents)]
    if kind == "math":
        for inline, formula in zip(rng.sample(INLINE, 3), rng.sample(FORMULAS, rng.randint(2, 3))):
            parts.append(f"For ${inline}$ we have\n\n$${formula}$$\n\n" + sents.next())
    elif kind == "code":
        lang, code = rng.choice(CODE)
        parts.append("The following function shows the idea in practice, and each line is explained below.")
        parts.append(f"```{lang}\n{code}\n```")
    parts.append(_para(rng, topic, rng.randint(2, 4), sents, opening=False))
    return kind, "\n\n".join(parts)


def bad_page(rng: random.Random) -> tuple[str, str]:
    """(kind, Markdown) of a low-quality page."""
    kind = rng.choice(["spam", "keywords", "nav", "salad", "thin"])
    if kind == "spam":
        words = [rng.choice(SPAM) + rng.choice(["!", "!!", "!!!", "", " >>"]) for _ in range(rng.randint(40, 90))]
        text = " ".join(words)
    elif kind == "keywords":
        topic = rng.choice(TOPICS)[0]
        text = "\n".join(f"{topic} {rng.choice(SPAM)} {topic} {rng.choice(['online', 'free', 'pdf', 'answers', 'cheat sheet'])}"
                         for _ in range(rng.randint(25, 50)))
    elif kind == "nav":
        text = "\n".join(f"- {rng.choice(NAV)}" for _ in range(rng.randint(30, 60)))
    elif kind == "salad":
        vocab = " ".join(_para(rng, rng.choice(TOPICS), 6) for _ in range(3)).split()
        rng.shuffle(vocab)
        text = " ".join(vocab[: rng.randint(80, 160)])
    else:
        topic = rng.choice(TOPICS)
        chrome = "\n".join(f"{rng.choice(NAV)} | {rng.choice(NAV)} | {rng.choice(SPAM)}" for _ in range(rng.randint(15, 30)))
        text = f"{chrome}\n\n{topic[1].capitalize()}.\n\n{chrome}"
    return kind, text


def labelled_pages(n: int, seed: int = 0) -> list[dict]:
    """``n`` pages, half good and half bad, shuffled: {text, label (1 good / 0 bad), score (0–5), kind}."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2 == 0:
            kind, text = good_page(rng)
            out.append({"text": text, "label": 1, "score": float(rng.choice([3, 4, 4, 5, 5])), "kind": kind})
        else:
            kind, text = bad_page(rng)
            out.append({"text": text, "label": 0, "score": float(rng.choice([0, 0, 1, 1, 2])), "kind": kind})
    rng.shuffle(out)
    return out
