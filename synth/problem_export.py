"""The RL problem set as a trainer reads it: ``problems.parquet`` and ``problems.jsonl``.

One row per problem, sorted by id, in the layout verl's RL datasets use (``data_source``,
``prompt`` as chat messages, ``ability``, ``reward_model``, ``extra_info``) plus flat columns an
OpenRLHF-style trainer picks with ``--input_key question --label_key answer`` (or any other):

    id               str           the problem's id
    data_source      str           "curate/<kind>"
    prompt           list<{role, content}>   one user turn: the question
    question         str           the question
    ability          str           "math" | "code"
    answer           str | null    math: the reference final answer
    tests            str | null    code: JSON list of tests (assert lines, {"stdin", "stdout"} pairs)
    entry_point      str | null    code: the function the assert tests call
    reward_model     {style, ground_truth}   style "rule"; ground_truth: the answer (math) or the
                                   JSON {"tests", "entry_point"} (code)
    k                int           samples drawn
    attempts         int           samples that produced an answer (backend failures excluded)
    passes           int           samples verified
    pass_rate        double        passes / attempts
    difficulty       double        1 - pass_rate
    label            str           easy | medium | hard | unsolved
    test_pass_rates  list<double>  per test (math: one, the answer), share of attempts passing it
    easy_pool        bool          pass rate above synth.difficulty.easy_pool_pass_rate
    resample_prob    double        easy pool: synth.difficulty.easy_resample_prob; else 1.0
    extra_info       {index, id, uri, split}   index = row number, split = "train"

The JSONL file has the same rows as JSON objects, in the same order.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.schema import new_document

SCHEMA = pa.schema([
    ("id", pa.string()), ("data_source", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("question", pa.string()), ("ability", pa.string()), ("answer", pa.string()), ("tests", pa.string()),
    ("entry_point", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("k", pa.int64()), ("attempts", pa.int64()), ("passes", pa.int64()), ("pass_rate", pa.float64()),
    ("difficulty", pa.float64()), ("label", pa.string()), ("test_pass_rates", pa.list_(pa.float64())),
    ("easy_pool", pa.bool_()), ("resample_prob", pa.float64()),
    ("extra_info", pa.struct([("index", pa.int64()), ("id", pa.string()), ("uri", pa.string()), ("split", pa.string())])),
])


def problem_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Problem Documents' ``(uri, meta)`` records → export rows (sorted by id)."""
    rows = []
    for i, rec in enumerate(sorted(records, key=lambda r: r["meta"]["problem"]["id"])):
        p, d = rec["meta"]["problem"], rec["meta"]["difficulty"]
        code = p["kind"] == "code"
        tests = json.dumps(p["tests"], ensure_ascii=False, sort_keys=True) if code else None
        truth = (json.dumps({"tests": p["tests"], "entry_point": p.get("entry_point")}, ensure_ascii=False, sort_keys=True)
                 if code else p["answer"])
        rows.append({
            "id": p["id"], "data_source": f"curate/{p['kind']}",
            "prompt": [{"role": "user", "content": p["question"]}], "question": p["question"], "ability": p["kind"],
            "answer": None if code else p["answer"], "tests": tests, "entry_point": p.get("entry_point"),
            "reward_model": {"style": "rule", "ground_truth": truth},
            "k": d["k"], "attempts": d["attempts"], "passes": d["passes"], "pass_rate": d["pass_rate"],
            "difficulty": d["difficulty"], "label": d["label"], "test_pass_rates": d["test_pass_rates"],
            "easy_pool": d["easy_pool"], "resample_prob": d["resample_prob"],
            "extra_info": {"index": i, "id": p["id"], "uri": rec["uri"], "split": "train"},
        })
    return rows


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), buf)
    return buf.getvalue()


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode("utf-8")


def problem_document(task: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """A curated problem as a Document: text = question; answer/tests and difficulty in meta."""
    problem = {"id": task["id"], "kind": task["kind"], "question": task["question"]}
    if task["kind"] == "math":
        problem["answer"] = task["answer"]
    else:
        problem["tests"] = task["tests"]
        if task.get("entry_point"):
            problem["entry_point"] = task["entry_point"]
    problem.update(task.get("extra") or {})
    diff = {k: summary.get(k) for k in ("k", "attempts", "passes", "pass_rate", "difficulty", "label", "test_pass_rates",
                                         "easy_pool", "resample_prob")}
    scores = {"pass_rate": summary["pass_rate"], "difficulty": summary["difficulty"]} if summary["attempts"] else {}
    return new_document(source="problems", uri=task["uri"], format="text", text=task["question"], id=task["id"],
                        extractor="synth:problems", domain=task["kind"], scores=scores,
                        meta={"problem": problem, "difficulty": diff})
