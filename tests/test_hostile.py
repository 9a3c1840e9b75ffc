"""Hostile input through the real read → extract step: each case ends as a reject with its
reason, or as a document with the hostile part neutralized, in bounded time; nothing else lost."""

import gzip
import json
import os
import random

import pytest

from curate.config import default_config
from curate.pipelines import steps
from curate.io.doc_shards import list_shards, read_shard

GOOD = "<html><body><article><p>" + "A perfectly ordinary paragraph about harbours and bakeries. " * 8 + "</p></article></body></html>"


def _laughs() -> str:
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % ((i - 1) if i > 1 else "")) * 10}">' for i in range(1, 10)
    )
    return (f'<?xml version="1.0"?><!DOCTYPE lolz [{ents}]><html xmlns="http://www.w3.org/1999/xhtml"><body>'
            "<article><p>&lol9;</p><p>" + "Real text about rivers and lighthouses goes here. " * 8 + "</p></article></body></html>")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    secret = d / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    w = lambda name, data: (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())  # noqa: E731
    w("laughs.xhtml", _laughs())
    w("xxe.html", f'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file://{secret}">]>'
                  "<html><body><article><p>&xxe;</p><p>" + "Harmless words about ferries and rain. " * 8 + "</p></article></body></html>")
    w("deep.html", "<html><body>" + "<div>" * 100_000 + "deep " * 50 + "</div>" * 100_000 + "</body></html>")
    w("oneline.html", "<html><body><p>" + "word " * 10_400_000 + "</p></body></html>")  # ≈ 52 MB on one line
    w("random.html", random.Random(0).randbytes(100_000))
    w("nul.html", GOOD.replace("ordinary", "ordi\x00nary"))
    w("utf16.html", ("<html><body><article><p>" + "Grüße aus der Stadt, wo der Fluss ruhig fließt. " * 8
                     + "</p></article></body></html>").encode("utf-16-le"))
    w("surrogates.jsonl", b'{"text": "lone \\ud800 surrogate in a long enough line of text about trains and bakeries"}\n')
    with gzip.open(d / "bomb.jsonl.gz", "wb", compresslevel=9) as f:
        f.write(b'{"text": "')
        for _ in range(64):
            f.write(b"0" * (1 << 20))  # 64 MiB of zeros behind ~64 KiB on disk
        f.write(b'"}\n')
    w("good.html", GOOD)
    return d


@pytest.fixture(scope="module")
def extracted(hostile, tmp_path_factory):
    cfg = default_config("stage2")
    cfg.read.max_decompressed_bytes = 16 << 20
    items = steps.source_items([{"name": "hostile", "paths": [str(hostile)], "format": "auto"}])
    items = [i for i in items if not i.path.endswith("secret.txt")]
    out = tmp_path_factory.mktemp("out")
    _, manifest = steps.extract_step(cfg, items, str(out), str(out), [], log=lambda m: None)
    docs = {os.path.basename(r["uri"]): r for p in list_shards(str(out / "docs")) for r in read_shard(p)}
    rejects = {os.path.basename(r["uri"]): r for p in list_shards(str(out / "rejects")) for r in read_shard(p)}
    return docs, rejects, manifest


def test_count_law_holds_on_hostile_input(extracted):
    docs, rejects, manifest = extracted
    for c in manifest["counts"].values():
        assert c["in"] == c["out"] + c["rejected"]
    assert "good.html" in docs  # the good page among them is kept


def test_entities_are_not_expanded_nor_files_read(extracted):
    docs, rejects, _ = extracted
    for name in ("laughs.xhtml", "xxe.html"):
        text = docs[name]["text"] if name in docs else ""
        assert "lollollol" not in text and "TOP-SECRET" not in text
        assert name in docs or rejects[name]["reason"].startswith("extract:")
    assert "Real text about rivers" in docs["laughs.xhtml"]["text"]


@pytest.mark.parametrize("name,reasons", [
    ("deep.html", ("extract:html:empty", "extract:html:too_short", "extract:too_deep", "extract:html:malformed")),
    ("oneline.html", ("extract:too_large", "read:too_large")),
    ("random.html", ("extract:html:malformed", "extract:html:empty")),
    ("bomb.jsonl.gz", ("read:gzip_bomb",)),
])
def test_rejects_with_reason(extracted, name, reasons):
    docs, rejects, _ = extracted
    assert name not in docs
    assert rejects[name]["reason"] in reasons


def test_odd_encodings_are_kept_readable(extracted):
    docs, _, _ = extracted
    assert "\x00" not in docs["nul.html"]["text"] and "harbours" in docs["nul.html"]["text"]
    assert "Grüße" in docs["utf16.html"]["text"]
    surrogate = next(d for n, d in docs.items() if n.startswith("surrogates.jsonl"))
    assert "surrogate" in surrogate["text"] and "\ud800" not in surrogate["text"]
    json.dumps(surrogate["text"]).encode("utf-8")
