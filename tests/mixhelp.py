"""Helpers for the mix tests: small Document pools written as Parquet step outputs."""

from __future__ import annotations

import os
import random

import pyarrow.parquet as pq

from curate.pipelines.runner import Produced, run_committed
from curate.sample import text as T
from curate.schema import DOCUMENT_SCHEMA, new_document, to_table


def write_shard(path: str, docs: list[dict], schema=DOCUMENT_SCHEMA) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(to_table(docs, schema), path)


def make_pool(directory: str, specs, seed: int = 0, nshards: int = 2) -> str:
    """specs: (source, domain, n_docs, format); documents get text by domain and a quality score."""
    rng = random.Random(seed)
    docs = []
    for source, domain, n, fmt in specs:
        for i in range(n):
            text = " ".join(T.paragraph(rng) for _ in range(rng.randint(1, 5)))
            if domain == "code":
                text += f"\n```python\ndef f{i}(x):\n    return x * {i}\n```\n"
            elif domain == "math":
                text += f" Let $x^{i} + y = {3 * i}$, then $$\\sum_k k = {i}$$."
            doc = new_document(source=source, uri=f"https://{source}.example/{i}", format=fmt, text=text, offset=i)
            doc["domain"] = domain
            doc["scores"] = {"fasttext_quality": round(rng.random(), 4)}
            docs.append(doc)
    return commit_pool(directory, docs, nshards, seed)


def commit_pool(directory: str, docs: list[dict], nshards: int = 1, seed: int = 0) -> str:
    """``docs`` as a committed step output (Parquet shards + a checksummed manifest), written by
    the step runner's own commit protocol, as a filter step's output is."""
    def produce(staged):
        for k in range(nshards):
            write_shard(staged.join("docs", f"part-{k:05d}-of-{nshards:05d}.parquet"), docs[k::nshards], DOCUMENT_SCHEMA)
        return Produced({"pool": {"in": len(docs), "out": len(docs), "rejected": 0, "rejects": {}}})

    run_committed("pool", f"{seed}-{len(docs)}", directory, produce, log=lambda m: None)
    return directory


WEB = [("cc", "general", 160, "html"), ("cc", "math", 30, "html"), ("cc", None, 10, "html"),
       ("arxiv", "math", 25, "pdf"), ("gh", "code", 40, "html")]
SYN = [("synth-math", "math", 30, "synthetic")]


def pools(tmp) -> dict[str, str]:
    return {"web": make_pool(os.path.join(tmp, "web"), WEB), "synthetic": make_pool(os.path.join(tmp, "syn"), SYN, seed=1)}
