"""Tokenization with HF ``tokenizers``: any ``tokenizer.json``, batch encoding, one EOD per document.

The default tokenizer is a byte-level BPE (16,384 ids, digits split one by one so numbers in
math stay regular) that this project trained with ``tokenizers`` and ships in
``mixtures/assets/tokenizer.json`` (~0.5 MB). Shipping it, rather than training on first
use, keeps token ids identical on every machine, which byte-identical shards need.
``python -m curate.mixtures.tokenizer OUT.json`` retrains it the same way, from the embedded
sample's generated prose/math/code and the Python standard library's source files.
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, Sequence, TypeVar, get_args

import numpy as np

from curate.errors import ConfigError
from curate.mixtures.config import TokenizerEngine
from curate.mixtures.fast_bpe import needs_hf, tiktoken_twin
from curate.mixtures.indexed import best_dtype

EOD_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "[SEP]")
SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>"]
DEFAULT_VOCAB_SIZE = 16384

T = TypeVar("T")


def default_tokenizer_path() -> str:
    """The bundled tokenizer.json (mixtures/assets/)."""
    return str(resources.files("curate.mixtures").joinpath("assets", "tokenizer.json"))


def file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_tokenizer(path: str | None = None):
    """A ``tokenizers.Tokenizer`` from ``path`` (None: the bundled one); ConfigError names a bad file."""
    from tokenizers import Tokenizer

    p = path or default_tokenizer_path()
    if not os.path.exists(p):
        raise ConfigError(f"tokenizer file not found: {p}")
    try:  # read here: Tokenizer.from_file takes only paths that encode as UTF-8
        with open(p, "rb") as f:
            return Tokenizer.from_str(f.read().decode("utf-8"))
    except Exception as e:  # tokenizers raises a plain Exception on bad JSON; bad UTF-8 is a ValueError
        raise ConfigError(f"cannot load tokenizer {p}: {e}") from None


def find_eod(tok, name: str | None = None) -> int:
    """Id of the end-of-document token: ``name`` if given, else the first known EOD the tokenizer has."""
    names = [name] if name else list(EOD_CANDIDATES)
    for n in names:
        i = tok.token_to_id(n)
        if i is not None:
            return int(i)
    raise ConfigError(
        f"tokenizer has no end-of-document token {name!r}" if name else
        f"tokenizer has none of the usual end-of-document tokens {EOD_CANDIDATES}; set mix.eod_token"
    )


class DocTokenizer:
    """Encodes batches of document texts to token arrays, each ending with the EOD token.

    Picklable (the tokenizer loads lazily), so a Beam DoFn can hold one and load it in setup.
    Ids are HF ``tokenizers``' for ``path``; with ``engine="auto"`` they are computed by
    tiktoken where it reproduces them (curate.mixtures.fast_bpe says when; ``engine`` and
    ``engine_note`` say which ran and why), else by ``encode_batch_fast``, which skips offset
    tracking. Special tokens of the template are not added (the EOD is appended explicitly).
    """

    def __init__(self, path: str | None = None, eod_token: str | None = None, engine: TokenizerEngine = "auto"):
        if engine not in get_args(TokenizerEngine):
            raise ConfigError(f"tokenizer engine {engine!r} is not one of {', '.join(get_args(TokenizerEngine))}")
        self.path = path or default_tokenizer_path()
        self.eod_token = eod_token
        self.engine_choice = engine
        self._tok = None
        self._fast = None
        self._eod: int | None = None
        self.engine_note = ""

    def __getstate__(self):
        return {"path": self.path, "eod_token": self.eod_token, "engine_choice": self.engine_choice,
                "_tok": None, "_fast": None, "_eod": None, "engine_note": ""}

    def load(self) -> "DocTokenizer":
        if self._tok is None:
            self._tok = load_tokenizer(self.path)
            self._eod = find_eod(self._tok, self.eod_token)
            if self.engine_choice == "auto":
                try:
                    self._fast, self.engine_note = tiktoken_twin(self.path, self._tok)
                except (ValueError, KeyError, TypeError, AttributeError) as e:  # an odd but loadable file
                    self._fast, self.engine_note = None, f"cannot read it for tiktoken: {e}"
            else:
                self.engine_note = "engine 'tokenizers' configured"
        return self

    @property
    def engine(self) -> str:
        """The engine that computes the ids: ``tiktoken`` or ``tokenizers``."""
        return "tiktoken" if self.load()._fast is not None else "tokenizers"

    @property
    def tokenizer(self):
        return self.load()._tok

    @property
    def eod(self) -> int:
        return int(self.load()._eod)  # type: ignore[arg-type]

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.get_vocab_size(with_added_tokens=True))

    @property
    def dtype(self) -> type:
        return best_dtype(self.vocab_size)

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One array per text: its token ids followed by the EOD id (dtype of the shards)."""
        return self._arrays(self._encodings(texts))

    def encode_batches(self, batches: Iterable[tuple[T, Sequence[str]]]) -> Iterator[tuple[T, list[np.ndarray]]]:
        """``(tag, encode(texts))`` for each ``(tag, texts)``, in order, one batch ahead.

        While the caller handles one batch, the next is read from ``batches`` and encoded in a
        helper thread (``encode_batch_fast`` runs in Rust without the GIL), so the tokenizer's
        threads are not idle during the Python side: array conversion, writing, and reading
        the next batch. ``batches`` is consumed in the calling thread; tags are passed through.
        """
        self.load()
        with ThreadPoolExecutor(1, thread_name_prefix="curate-tokenize") as pool:
            pending = None
            for tag, texts in batches:
                job = (tag, pool.submit(self._encodings, texts))
                if pending is not None:
                    yield pending[0], self._arrays(pending[1].result())
                pending = job
            if pending is not None:
                yield pending[0], self._arrays(pending[1].result())

    def _encodings(self, texts: Sequence[str]) -> list[list[int]]:
        texts = list(texts)
        if not texts:
            return []
        if self._fast is None:
            return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        ids = self._fast.encode_batch(texts)
        slow = [i for i, t in enumerate(texts) if needs_hf(t)]
        if slow:
            for i, e in zip(slow, self.tokenizer.encode_batch_fast([texts[i] for i in slow], add_special_tokens=False)):
                ids[i] = e.ids
        return ids

    def _arrays(self, encs: list[list[int]]) -> list[np.ndarray]:
        eod = self.eod
        dt = self.dtype
        out = []
        for ids in encs:
            a = np.empty(len(ids) + 1, dtype=dt)
            a[:-1] = ids
            a[-1] = eod
            out.append(a)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


# ---------------------------------------------------------------- training the default

def train_bpe(texts: Iterable[str], out_path: str, vocab_size: int = DEFAULT_VOCAB_SIZE) -> str:
    """Train a byte-level BPE on ``texts`` and save it as tokenizer.json at ``out_path``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tmp = out_path + ".tmp"
    tok.save(tmp, pretty=False)
    os.replace(tmp, out_path)
    return out_path


def default_training_texts(seed: int = 1234, pages: int = 3000) -> Iterator[str]:
    """The default tokenizer's corpus: generated sample prose/math/code and stdlib Python source."""
    import random
    import re
    import sysconfig

    from curate.sample import generate as g

    rng = random.Random(seed)
    tag = re.compile(r"<[^>]+>")
    for i in range(pages):
        kind = i % 3
        title, body = (g.article_body, g.math_body, g.code_body)[kind](rng)
        yield title + "\n\n" + tag.sub(" ", body)
    stdlib = sysconfig.get_paths()["stdlib"]
    files = []
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "test", "tests", "idlelib", "__pycache__"))
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    for p in files[:1500]:
        try:
            with open(p, encoding="utf-8") as f:
                yield f.read()
        except (OSError, UnicodeDecodeError):
            continue


if __name__ == "__main__":  # python -m curate.mixtures.tokenizer [OUT]
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else default_tokenizer_path()
    train_bpe(default_training_texts(), out)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")
