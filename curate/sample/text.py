"""Word banks and sentence builders for the embedded sample: prose, math, code, spam, other languages.

All text is generated here from a seeded RNG; nothing is copied from elsewhere.
"""

from __future__ import annotations

import random

SUBJECTS = [
    "the river delta", "a small bakery", "the city council", "the research team", "our local library",
    "the hiking trail", "an old lighthouse", "the school orchestra", "the farmers' market", "a new bicycle lane",
    "the museum archive", "the winter festival", "a solar cooperative", "the harbour ferry", "the community garden",
]
VERBS = [
    "has changed", "attracted", "surprised", "documented", "slowly reshaped", "inspired", "challenged",
    "brought together", "quietly improved", "carefully measured", "opened up", "transformed",
]
OBJECTS = [
    "the way residents spend their weekends", "several hundred volunteers", "the annual budget discussion",
    "a generation of young readers", "traffic patterns in the northern district", "the price of fresh bread",
    "how visitors experience the coast", "the debate about public transport", "records going back a century",
    "the habits of migrating birds", "local job opportunities", "the rhythm of the seasons",
]
CLAUSES = [
    "according to people who were there", "although nobody expected it at first", "after years of planning",
    "despite a difficult spring", "which few had predicted", "as the reports from last month show",
    "while the weather remained mild", "because the community insisted on it", "and the results are still coming in",
]
CONNECTORS = ["Moreover,", "In addition,", "However,", "Meanwhile,", "As a result,", "Still,", "For example,", "Later,"]

MATH_TOPICS = [
    ("Quadratic equations", [
        ("inline", r"ax^2 + bx + c = 0"), ("display", r"x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}"),
        ("inline", r"\Delta = b^2 - 4ac"), ("inline", r"x_1 x_2 = \frac{c}{a}")]),
    ("Geometric series", [
        ("inline", r"|r| < 1"), ("display", r"\sum_{n=0}^{\infty} a r^n = \frac{a}{1-r}"),
        ("inline", r"S_n = a\frac{1-r^{n}}{1-r}"), ("inline", r"r = \tfrac{1}{2}")]),
    ("The Gaussian integral", [
        ("display", r"\int_{-\infty}^{\infty} e^{-x^2}\,dx = \sqrt{\pi}"), ("inline", r"e^{-x^2}"),
        ("inline", r"I^2 = \int_0^{2\pi}\int_0^\infty e^{-r^2} r\,dr\,d\theta"), ("inline", r"\sqrt{\pi}")]),
    ("Euler's identity", [
        ("display", r"e^{i\pi} + 1 = 0"), ("inline", r"e^{i\theta} = \cos\theta + i\sin\theta"),
        ("inline", r"\theta = \pi"), ("inline", r"|e^{i\theta}| = 1")]),
    ("Bayes' theorem", [
        ("display", r"P(A \mid B) = \frac{P(B \mid A)\,P(A)}{P(B)}"), ("inline", r"P(B) > 0"),
        ("inline", r"P(A \cap B) = P(A)P(B \mid A)"), ("inline", r"0 \le P(A) \le 1")]),
    ("Matrix determinants", [
        ("display", r"\det\begin{pmatrix} a & b \\ c & d \end{pmatrix} = ad - bc"), ("inline", r"\det(AB) = \det A \det B"),
        ("inline", r"A^{-1}"), ("inline", r"\det A \neq 0")]),
    ("Limits and continuity", [
        ("display", r"\lim_{x \to 0} \frac{\sin x}{x} = 1"), ("inline", r"\epsilon > 0"),
        ("inline", r"|f(x) - L| < \epsilon"), ("inline", r"\delta > 0")]),
]
MATH_PROSE = [
    "Recall that {f} holds for every admissible choice of the parameters.",
    "We now show why {f} follows from the previous step.",
    "Substituting the known values gives {f}, which we can check numerically.",
    "It is worth noting that {f} is the key identity in this argument.",
    "A common mistake is to forget the condition {f} when simplifying.",
    "From the definition we obtain {f} directly.",
]

CODE_SNIPPETS = [
    ("python", "Reading a file line by line", '''def count_words(path):
    counts = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            for word in line.split():
                counts[word] = counts.get(word, 0) + 1

    return counts'''),
    ("python", "A binary search", '''def binary_search(items, target):
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1'''),
    ("javascript", "Debouncing an input handler", '''function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}'''),
    ("c", "Reversing a string in place", '''void reverse(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n / 2; i++) {
        char t = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = t;
    }
}'''),
    ("rust", "Summing with iterators", '''fn sum_of_squares(v: &[i64]) -> i64 {
    v.iter()
        .map(|x| x * x)
        .sum()
}'''),
    ("bash", "Finding large files", '''find . -type f -size +100M \\
    -exec ls -lh {} \\; | sort -k5 -h'''),
]
CODE_PROSE = [
    "The function below does the work in a single pass, which keeps memory use flat.",
    "Notice how the loop keeps the invariant that the answer lies between the two bounds.",
    "This version is short, but it handles the empty case correctly as well.",
    "Run it on a small input first and compare the output with what you expect.",
    "The call to {c} is the only place where the state changes.",
    "If you prefer, {c} can be replaced by an equivalent helper from the standard library.",
]

SPAM = [
    "BUY NOW", "cheap pills", "best price guaranteed", "click here", "free bonus", "limited offer",
    "casino jackpot", "make money fast", "100% free", "act now", "winner winner", "crypto gains",
]

FOREIGN = {
    "fr": "La bibliothèque municipale a ouvert une nouvelle salle de lecture pour les enfants du quartier. "
          "Les habitants se réjouissent de pouvoir emprunter des livres le dimanche matin, et les bénévoles "
          "organisent des ateliers d'écriture chaque semaine pendant les vacances scolaires.",
    "de": "Der Stadtrat hat beschlossen, den alten Bahnhof in ein Kulturzentrum umzuwandeln. Viele Bürger "
          "haben sich an der Planung beteiligt, und die ersten Konzerte sollen bereits im nächsten Frühjahr "
          "stattfinden, wenn die Renovierung der großen Halle abgeschlossen ist.",
    "es": "El mercado de agricultores se celebra todos los sábados en la plaza mayor. Los productores locales "
          "venden frutas, verduras y quesos, y muchas familias aprovechan la mañana para pasear y conversar "
          "con los vecinos mientras los niños juegan cerca de la fuente.",
}


NAMES = ["Amara Okafor", "Jonas Lindqvist", "Priya Raman", "Mateo Alvarez", "Hana Sato", "Olivia Brennan",
         "Tomasz Nowak", "Leila Haddad", "Samuel Greene", "Ines Duarte", "Kwame Mensah", "Freya Holm"]
ROLES = ["volunteer", "engineer", "teacher", "historian", "shop owner", "nurse", "student", "council member",
         "architect", "fisherman", "librarian", "retired pilot"]
PLACES = ["the old town", "the eastern harbour", "the university district", "the riverside park", "the market square",
          "the northern suburbs", "the railway station", "the hill above the bay", "the industrial estate", "the village green"]
TIMES = ["last spring", "over the past decade", "since the storm in March", "during the summer holidays",
         "every second Tuesday", "before the new bridge opened", "in the early hours", "after the election"]
ADJ = ["quiet", "unexpected", "modest", "ambitious", "careful", "noisy", "generous", "fragile", "steady", "remarkable"]
NOUNS = ["proposal", "survey", "experiment", "petition", "workshop", "renovation", "festival", "study", "campaign", "exhibition"]
FIGURES = ["a third", "nearly half", "roughly two hundred", "more than sixty", "about one in five", "a dozen"]
STRUCTURES = [
    "{S} {V} {O}, {C}.",
    "{N}, a {R} from {P}, said the {A} {Nn} {V} {O}.",
    "According to {N}, {F} of the people around {P} noticed it {T}.",
    "The {A} {Nn} started {T} and {V} {O}.",
    "Few in {P} remember a {Nn} this {A}.",
    "{T}, {S} {V} {O}.",
    "{N} kept notes on each {Nn} near {P}.",
    "What began as a {A} {Nn} {T} has {V2} {O}.",
    "Ask any {R} in {P} about {O} and you will hear a story.",
    "{F} of the budget went to a {A} {Nn}, {C}.",
    "{N} called it {A}, {C}.",
    "There was a {Nn} at {P} {T}; {S} {V} {O}.",
    "Nobody planned for {O}, yet {S} {V} it.",
    "{S} and {S2} now share a {A} {Nn}.",
    "The {R}s of {P} voted for the {Nn} {T}.",
    "Is {O} worth the effort? {N} thinks so.",
    "By {Y}, {F} of the volunteers had joined the {Nn}.",
    "{N} wrote a {A} letter about {O}.",
]


class Book:
    """Draws words and phrases without replacement within one document, as a writer avoids
    repeating themselves (a repetitive page is what the Gopher repetition rules catch)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._decks: dict[int, list] = {}

    def draw(self, items: list):
        deck = self._decks.get(id(items))
        if not deck:
            deck = list(items)
            self.rng.shuffle(deck)
            self._decks[id(items)] = deck
        return deck.pop()


def _book(x) -> Book:
    return x if isinstance(x, Book) else Book(x)


def sentence(rng) -> str:
    """One sentence of varied, readable prose; pass a Book to avoid repeats across a document."""
    b = _book(rng)
    s = b.draw(STRUCTURES).format(
        S=b.draw(SUBJECTS).capitalize(), S2=b.draw(SUBJECTS), V=b.draw(VERBS), V2=b.draw(VERBS).replace("has ", ""),
        O=b.draw(OBJECTS), C=b.draw(CLAUSES), N=b.draw(NAMES), R=b.draw(ROLES), P=b.draw(PLACES),
        T=b.draw(TIMES), A=b.draw(ADJ), Nn=b.draw(NOUNS), F=b.draw(FIGURES), Y=b.rng.randint(1990, 2024),
    )
    s = s[0].upper() + s[1:]
    if b.rng.random() < 0.25 and s.split(" ", 1)[0] in ("The", "What", "Few", "According"):
        s = f"{b.draw(CONNECTORS)} {s[0].lower()}{s[1:]}"
    return s


def paragraph(rng, n: int | None = None) -> str:
    b = _book(rng)
    return " ".join(sentence(b) for _ in range(n or b.rng.randint(3, 6)))


def spam_text(rng: random.Random) -> str:
    return " ".join(rng.choice(SPAM) + "!!!" for _ in range(rng.randint(20, 40)))
