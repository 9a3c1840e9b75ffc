"""datatrove's side of benchmarks/pipeline.py; runs inside the datatrove venv, never in curate's.

    python _datatrove_run.py --input DIR --work DIR --workers 2 --tokenizer tokenizer.json --result out.json

The chain a datatrove user would write for the same job, with datatrove's defaults:

    1. WarcReader → Trafilatura → GopherQualityFilter → JsonlWriter → MinhashDedupSignature
    2. MinhashDedupBuckets      (one task per bucket)
    3. MinhashDedupCluster      (one task)
    4. JsonlReader → MinhashDedupFilter → MegatronDocumentTokenizer

Each is a LocalPipelineExecutor with ``workers`` processes; stage 1 and 4 have ``workers``
tasks. The extracted, filtered documents are written once (stage 1) and re-read in stage 4
rather than extracting the WARC twice, as FineWeb's pipeline does. datatrove splits work by
file, so when the WARC files do not divide evenly among the tasks they are first rewritten
(untimed) into ``workers`` files of equal page counts, which only helps datatrove.

Writes a JSON result: setup time (dependency preflight and resharding, untimed by the
caller), wall time and datatrove's own stats per stage, surviving documents,
tokens, and where the token files are.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import time


def reshard(files: list[str], out_dir: str, parts: int) -> list[str]:
    """Rewrite the WARC records of ``files`` round-robin into ``parts`` equal .warc.gz files."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    os.makedirs(out_dir, exist_ok=True)
    outs = [open(os.path.join(out_dir, f"part-{i:05d}.warc.gz"), "wb") for i in range(parts)]
    writers = [WARCWriter(f, gzip=True) for f in outs]
    n = 0
    for path in files:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                writers[n % parts].write_record(record)
                n += 1
    for f in outs:
        f.close()
    return sorted(glob.glob(os.path.join(out_dir, "*.warc.gz")))


def preflight(tokenizer: str) -> None:
    """Fail now, not in a worker, when a block's dependency is missing (the extractor would
    otherwise log one timeout per page) or would need a download (no internet here)."""
    import cchardet, magic, orjson, warcio  # noqa: F401,E401  WarcReader, JsonlWriter
    import trafilatura
    from datatrove.utils.word_tokenizers import load_word_tokenizer
    from tokenizers import Tokenizer

    assert trafilatura.extract("<html><body><article><p>" + "Some words here. " * 20 + "</p></article></body></html>")
    load_word_tokenizer("en").word_tokenize("Gopher and MinHash split words with spaCy's blank English model.")
    Tokenizer.from_file(tokenizer)


def stats_of(logging_dir: str) -> list[dict]:
    """datatrove's merged stats.json of one executor: [{name, stats}] per pipeline block."""
    path = os.path.join(logging_dir, "stats.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = json.load(f)
    out = []
    for block in data:
        stats = {}
        for k, v in (block.get("stats") or {}).items():
            stats[k] = v.get("total", v) if isinstance(v, dict) else v
        out.append({"name": block.get("name"), "stats": stats})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="folder with the *.warc.gz files")
    ap.add_argument("--work", required=True, help="fresh working folder (emptied first)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json shared with curate")
    ap.add_argument("--eos", default="<|endoftext|>")
    ap.add_argument("--result", required=True)
    args = ap.parse_args()

    import datatrove
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import GopherQualityFilter
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.tokens import MegatronDocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter

    args.work = os.path.abspath(args.work)
    t_setup = time.time()
    preflight(args.tokenizer)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    w = args.workers
    files = sorted(glob.glob(os.path.join(args.input, "*.warc.gz")))
    if not files:
        print(f"no *.warc.gz in {args.input}", file=sys.stderr)
        return 2
    input_dir, resharded = args.input, False
    if len(files) % w:
        t = time.time()
        reshard(files, os.path.join(args.work, "warc"), w)
        input_dir, resharded = os.path.join(args.work, "warc"), True
        print(f"[datatrove] resharded {len(files)} WARC file(s) into {w} in {time.time() - t:.1f}s (untimed)", flush=True)
    setup_s = time.time() - t_setup
    n_files = len(glob.glob(os.path.join(input_dir, "*.warc.gz")))
    tasks = max(w, n_files) if n_files % w == 0 else w

    d = lambda *p: os.path.join(args.work, *p)  # noqa: E731
    mh = MinhashConfig()  # datatrove's defaults: 5-grams, 14 buckets × 8 hashes
    stages = [
        ("extract+gopher+signature", dict(pipeline=[
            WarcReader(input_dir, glob_pattern="*.warc.gz"),
            Trafilatura(),
            GopherQualityFilter(),
            JsonlWriter(d("filtered")),
            MinhashDedupSignature(output_folder=d("signatures"), config=mh),
        ], tasks=tasks, workers=w)),
        ("minhash buckets", dict(pipeline=[
            MinhashDedupBuckets(input_folder=d("signatures"), output_folder=d("buckets"), config=mh),
        ], tasks=mh.num_buckets, workers=w)),
        ("minhash cluster", dict(pipeline=[
            MinhashDedupCluster(input_folder=d("buckets"), output_folder=d("remove_ids"), config=mh),
        ], tasks=1, workers=1)),
        ("minhash filter+tokenize", dict(pipeline=[
            JsonlReader(d("filtered")),
            MinhashDedupFilter(input_folder=d("remove_ids")),
            MegatronDocumentTokenizer(output_folder=d("tokens"), tokenizer_name_or_path=args.tokenizer, eos_token=args.eos),
        ], tasks=tasks, workers=w)),
    ]
    result = {"datatrove": datatrove.__version__ if hasattr(datatrove, "__version__") else "0.10.1",
              "workers": w, "tasks": tasks, "input_files": n_files, "resharded": resharded,
              "setup_s": round(setup_s, 3), "stages": []}
    t_all = time.time()
    for i, (name, kw) in enumerate(stages):
        t = time.time()
        LocalPipelineExecutor(logging_dir=d("logs", str(i)), **kw).run()
        result["stages"].append({"name": name, "wall_s": round(time.time() - t, 3), "blocks": stats_of(d("logs", str(i)))})
        print(f"[datatrove] {name}: {time.time() - t:.1f}s", flush=True)
    result["wall_s"] = round(time.time() - t_all, 3)
    result["token_prefixes"] = sorted(p[:-4] for p in glob.glob(d("tokens", "*.idx")))
    result["filtered_dir"] = d("filtered")
    with open(args.result, "w") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
