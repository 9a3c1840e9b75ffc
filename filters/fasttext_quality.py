"""fastText classifiers: the quality model (high vs low) and an optional domain model.

Training writes ``__label__<name> <normalized text>`` lines and calls fastText's supervised
trainer; scoring normalizes the same way and reads the label probabilities. The quality
score is P(``__label__hq``) in [0, 1] (``scores["fasttext_quality"]``).
"""

from __future__ import annotations

import os
import re
import tempfile

HQ, LQ = "hq", "lq"
_WS = re.compile(r"\s+")


def normalize(text: str, max_chars: int = 20_000) -> str:
    """One line, lower case, punctuation split from words: what fastText sees."""
    t = text[:max_chars].lower()
    t = re.sub(r"([.,!?;:()\[\]{}\"'`$\\=+*/^_|<>#-])", r" \1 ", t)
    return _WS.sub(" ", t).strip()


def load_fasttext(path: str):
    """Load a fastText model (.bin/.ftz) without fastText's stderr warning."""
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None
    if not os.path.exists(path):
        raise FileNotFoundError(f"fastText model not found: {path}")
    return fasttext.load_model(path)


def train(labelled: list[tuple[str, str]], out_path: str, *, epoch: int = 10, lr: float = 0.5, dim: int = 64,
          word_ngrams: int = 2, min_count: int = 1, seed: int = 0, quantize: bool = False, threads: int = 2) -> str:
    """Train a supervised fastText model on (label, text) pairs and save it to ``out_path``."""
    import fasttext

    if len({lab for lab, _ in labelled}) < 2:
        raise ValueError("fastText training needs examples of at least two labels")
    d = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(d, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8", dir=d) as fh:
        for lab, text in labelled:
            line = normalize(text)
            if line:
                fh.write(f"__label__{lab} {line}\n")
        train_file = fh.name
    try:
        model = fasttext.train_supervised(input=train_file, epoch=epoch, lr=lr, dim=dim, wordNgrams=word_ngrams,
                                          minCount=min_count, seed=seed, thread=threads, verbose=0)
        if quantize:
            model.quantize(input=train_file, retrain=True, verbose=0)
    finally:
        os.unlink(train_file)
    tmp = out_path + ".tmp"
    model.save_model(tmp)
    os.replace(tmp, out_path)
    return out_path


def train_quality(positive: list[str], negative: list[str], out_path: str, **kw) -> str:
    """Binary quality model: positive texts are ``hq``, negative ``lq``."""
    return train([(HQ, t) for t in positive] + [(LQ, t) for t in negative], out_path, **kw)


class FastTextClassifier:
    """A loaded fastText model: label probabilities for a batch of texts."""

    def __init__(self, path: str):
        self.model = load_fasttext(path)
        self.labels = [lab.replace("__label__", "") for lab in self.model.get_labels()]

    def probabilities(self, texts: list[str]) -> list[dict[str, float]]:
        lines = [normalize(t) or "." for t in texts]
        labels, probs = self.model.predict(lines, k=len(self.labels))
        return [{lab.replace("__label__", ""): float(p) for lab, p in zip(ls, ps)} for ls, ps in zip(labels, probs)]

    def quality(self, texts: list[str]) -> list[float]:
        """P(hq) per text (``fasttext_quality``)."""
        if HQ not in self.labels:
            raise ValueError(f"not a quality model (labels {self.labels}, expected {HQ!r} and {LQ!r})")
        return [p.get(HQ, 0.0) for p in self.probabilities(texts)]

    def top(self, texts: list[str]) -> list[tuple[str, float]]:
        out = []
        for p in self.probabilities(texts):
            lab = max(p, key=p.get) if p else ""
            out.append((lab, p.get(lab, 0.0)))
        return out
