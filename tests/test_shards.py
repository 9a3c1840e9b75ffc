"""WriteShards: an external sort (sorted runs per bundle, k-way merge per shard) whose shards
hold every record once, in id order, with the same bytes however the runs fell."""

import os
import random

import gc

import apache_beam as beam
import pyarrow.parquet as pq
import pytest

from curate.io import doc_shards
from curate.pipelines import shards
from curate.schema import new_document


def _docs(n=1500):
    rng = random.Random(7)
    docs = []
    for i in range(n):
        d = new_document(source="s", uri=f"https://x.example/{rng.randrange(10**6)}", format="html",
                         text=" ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(rng.randint(1, 60))),
                         offset=i)
        docs.append(d)
    docs += [dict(docs[5], uri=None), dict(docs[9], text="same id, other text")]  # equal ids: ties broken by text, uri
    return docs


def _write(tmp, name, docs, spool_bytes):
    out = os.path.join(tmp, name)
    with beam.Pipeline() as p:
        p | beam.Create(docs, reshuffle=False) | shards.WriteShards(out, 3, spool_bytes=spool_bytes)
    return out


def test_many_runs_and_merge_passes_give_the_same_sorted_shards(tmp_path, monkeypatch):
    docs = _docs()
    one_run = _write(str(tmp_path), "one", docs, spool_bytes=1 << 30)
    monkeypatch.setattr(doc_shards, "MAX_RUNS", 3)  # forces merge passes over the many small runs
    many = _write(str(tmp_path), "many", docs, spool_bytes=4000)
    key = doc_shards.sort_key(pq.read_schema(doc_shards.list_shards(one_run)[0]))
    seen = 0
    for a, b in zip(doc_shards.list_shards(one_run), doc_shards.list_shards(many), strict=True):
        assert open(a, "rb").read() == open(b, "rb").read()
        rows = doc_shards.read_shard(b)
        assert [key(r) for r in rows] == sorted(key(r) for r in rows)
        assert all(doc_shards.shard_of(r["id"], 3) == int(os.path.basename(b)[5:10]) for r in rows)
        assert len(pq.ParquetFile(b).metadata.row_group(0).to_dict()["columns"]) > 0
        seen += len(rows)
    assert seen == len(docs)
    assert not os.listdir(os.path.join(many, "_spool"))  # runs and merge passes cleaned up


def test_empty_input_writes_no_shard_and_no_error(tmp_path):
    out = os.path.join(str(tmp_path), "empty")
    with beam.Pipeline() as p:
        p | beam.Create([]) | shards.WriteShards(out, 2)
    assert shards.list_shards(out) == []


def test_a_shard_merge_run_again_returns_the_shard_it_wrote(tmp_path):
    """Runners run a task at least once (Dask computes a lost result again, Dataflow retries a
    bundle that failed after its work was done): a merge run again after the first deleted its
    runs returns the shard the first wrote, the same bytes, instead of failing on the missing runs."""
    from curate.schema import DOCUMENT_SCHEMA

    docs = _docs(300)
    runs = _runs(tmp_path, docs)
    assert len(runs) > 2
    first = doc_shards.merge_runs(str(tmp_path), 0, 2, runs, DOCUMENT_SCHEMA)
    written = open(first[0], "rb").read()
    assert first[1] == sum(1 for d in docs if doc_shards.shard_of(d["id"], 2) == 0) and not any(map(os.path.exists, runs))
    open(runs[0], "wb").close()  # the earlier run died between deleting one run and the next
    again = doc_shards.merge_runs(str(tmp_path), 0, 2, runs, DOCUMENT_SCHEMA)
    assert again == first and open(again[0], "rb").read() == written and not any(map(os.path.exists, runs))


def _runs(tmp_path, docs, shard=0):
    """Sorted runs of one shard, made by the real producer (the _Spool DoFn)."""
    from curate.schema import DOCUMENT_SCHEMA

    spool = tmp_path / "_spool"
    spool.mkdir()
    fn = shards._Spool(str(spool), 2, DOCUMENT_SCHEMA, spool_bytes=20000)
    fn.setup()
    fn.start_bundle()
    pairs = [pair for d in docs for pair in fn.process(d)] + [wv.value for wv in fn.finish_bundle()]
    return sorted(str(spool / name) for s, name in pairs if s == shard)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_merge_that_fails_mid_write_closes_its_writer_and_leaves_no_temporary(tmp_path, monkeypatch):
    """Seen in CI: a Ctrl-C during extract landed in a shard merge, and the Parquet writer,
    closed only by its __del__ after its file, printed a traceback ("write to closed file")."""
    from curate.schema import DOCUMENT_SCHEMA

    runs = _runs(tmp_path, _docs(300))

    class Dies(pq.ParquetWriter):
        def write_table(self, *a, **k):
            super().write_table(*a, **k)
            raise KeyboardInterrupt

    monkeypatch.setattr(doc_shards.pq, "ParquetWriter", Dies)
    with pytest.raises(KeyboardInterrupt):
        doc_shards.merge_runs(str(tmp_path), 0, 2, runs, DOCUMENT_SCHEMA)
    gc.collect()
    assert sorted(os.listdir(tmp_path)) == ["_spool"] and all(map(os.path.exists, runs))


def test_shards_in_a_folder_named_with_a_non_utf8_byte(tmp_path):
    """Seen: `curate run stage2` with its output under a folder named with the byte 0xff failed
    in WriteShards (UnicodeEncodeError: surrogates not allowed): the spool files' paths crossed
    a shuffle, and Beam encodes a str as UTF-8. Only their names cross it now."""
    odd = tmp_path / os.fsdecode(b"odd-\xff")
    docs = _docs(200)
    out = _write(str(odd), "shards", docs, spool_bytes=4000)
    plain = _write(str(tmp_path), "plain", docs, spool_bytes=4000)
    got, want = doc_shards.list_shards(out), doc_shards.list_shards(plain)
    assert len(got) == 3 and [open(a, "rb").read() for a in got] == [open(b, "rb").read() for b in want]
