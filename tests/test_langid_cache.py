"""py3langid's model read from curate's cache gives the package loader's answers."""

import os

from curate.filters import langid

TEXTS = [
    "The committee met on Tuesday to discuss the new budget for the city library and its branches.",
    "Le comité s'est réuni mardi pour discuter du nouveau budget de la bibliothèque municipale.",
    "Der Ausschuss traf sich am Dienstag, um das neue Budget der Stadtbibliothek zu besprechen.",
    "委員会は火曜日に市立図書館の新しい予算について話し合った。",
    "Комитет собрался во вторник, чтобы обсудить новый бюджет городской библиотеки.",
]


def test_the_cached_model_answers_as_the_packaged_one(tmp_path, monkeypatch):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ref = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    first = langid.load_py3langid()  # decompresses into the cache
    cached = [p for p in os.listdir(tmp_path / "curate") if p.startswith("py3langid-") and p.endswith(".npz")]
    assert len(cached) == 1 and not [p for p in os.listdir(tmp_path / "curate") if p.endswith(".tmp")]
    second = langid.load_py3langid()  # reads the cache
    for t in TEXTS:
        assert first.classify(t) == second.classify(t) == ref.classify(t), t


def test_a_damaged_cache_falls_back_to_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    langid.load_py3langid()
    (path,) = (tmp_path / "curate").glob("py3langid-*.npz")
    path.write_bytes(b"not a zip")
    assert langid.load_py3langid().classify(TEXTS[1])[0] == "fr"  # the package's loader, the file removed
    assert langid.load_py3langid().classify(TEXTS[1])[0] == "fr"  # made again
    assert path.read_bytes()[:2] == b"PK"
