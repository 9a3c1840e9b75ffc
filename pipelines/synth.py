"""Synthesize: seed problems or math/code Documents → verified synthetic Documents.

    lines/problems/Documents ─ Prepare (parse, check, decontaminate) ─ tasks
    tasks ─ batch ─ Generate (k samples per task, backend + disk cache) ─ generations
    generations ─ batch ─ Verify (math answer / sandboxed tests / decontaminate) ─ outcomes
    outcomes ─ group by task ─ Finalize (pass rate → difficulty) ─ docs, rejects, summaries

Counted parts (each keeps in = out + Σ rejects): ``problems`` (inputs → tasks), ``near_dups``
(tasks → distinct tasks; ``ProblemSet`` only: near-duplicate problems are never sampled), ``generate``
(k sample slots per task → generations; failures are ``synth:backend_error``), ``verify``
(generations → verified Documents). ``ProblemSet`` adds ``rate`` (tasks → curated problems).
Inputs may be problem-file lines ``{"_path", "_line", "_raw"}`` (see ``curate.synth.tasks.read_problem_lines``),
parsed problem dicts, or pool Documents (rewritten when their domain is math or code).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import apache_beam as beam

from curate.errors import Reject
from curate.pipelines.shards import as_list
from curate.schema import make_reject
from curate.synth import tasks
from curate.synth.backend_factory import make_backend
from curate.synth.backends import BackendError
from curate.synth.config import SynthConfig
from curate.synth.decontam import index_from_config
from curate.synth.difficulty import Difficulty, in_easy_pool, keep_problem, rate, test_pass_rates
from curate.synth.near_dups import near_duplicates
from curate.synth.problem_export import problem_document
from curate.synth.prompts import load_templates
from curate.synth.sandbox import SandboxLimits
from curate.synth.tasks import choose_rewrites, estimated_tokens

STEP = "synth"


class _PrepareFn(beam.DoFn):
    def __init__(self, cfg: SynthConfig, decontam=None):
        self.cfg = cfg
        self.decontam = decontam
        self.index = None

    def setup(self):
        self.index = index_from_config(self.decontam) if self.decontam is not None else None

    def process(self, rec):
        try:
            if "_path" in rec:
                if rec.get("_raw") is None:
                    raise Reject("synth:bad_problem", f"{rec['_path']}:{rec['_line']}: {rec.get('_error')}")
                task = tasks.parse_problem_line(rec["_raw"], rec["_path"], rec["_line"])
            elif "format" in rec and "text" in rec:
                task = tasks.rewrite_task(rec, self.cfg.rewrite_domains, self.cfg.max_source_chars,
                                          self.cfg.keep_unverified_rewrites)
            else:
                task = tasks.normalize_problem(rec)
            if self.index:
                hit = self.index.match(task.get("question") or task.get("text") or "")
                if hit:
                    raise Reject(f"synth:contaminated:{hit.benchmark}", hit.detail())
            yield task
        except Reject as r:
            yield beam.pvalue.TaggedOutput("rejects", make_reject(tasks.input_as_doc(rec), STEP, r.reason, r.detail))
        except Exception as e:  # noqa: BLE001 - one bad input must not stop the step
            yield beam.pvalue.TaggedOutput(
                "rejects", make_reject(tasks.input_as_doc(rec), STEP, f"error:synth:{type(e).__name__}", str(e)[:500]))


class _GenerateFn(beam.DoFn):
    """A batch of tasks → k generation records each (or backend_error rejects + markers)."""

    def __init__(self, cfg: SynthConfig, templates: dict, cache_dir: str | None):
        self.cfg = cfg
        self.templates = templates
        self.cache_dir = cache_dir
        self.backend = None

    def setup(self):
        self.backend = make_backend(self.cfg.backend, self.cache_dir)

    def teardown(self):
        if self.backend is not None:
            self.backend.close()

    def process(self, batch):
        k = self.cfg.k
        prompts, ok = [], []
        for task in batch:
            try:
                prompts.append(tasks.render_prompt(task, self.templates))
                ok.append(task)
            except KeyError as e:
                for j in range(k):
                    yield from self._error(task, j, f"prompt: {e}")
        try:
            results = self.backend.generate_each(prompts, n=k) if prompts else []
        except Exception as e:  # noqa: BLE001 - the backend's own failure is this batch's reject
            results = [BackendError(f"{type(e).__name__}: {e}")] * len(prompts)
        describe = self.backend.describe()
        sampling = self.backend.sampling()
        for task, res in zip(ok, results):
            t = self.templates[tasks.template_name(task)]
            prov = {"backend": describe, "sampling": sampling, "prompt": {"name": t.name, "origin": t.origin, "sha": t.sha}}
            for j in range(k):
                if isinstance(res, BackendError):
                    yield from self._error(task, j, str(res)[:500], prov)
                elif j >= len(res):
                    yield from self._error(task, j, f"backend returned {len(res)} of {k} samples", prov)
                else:
                    c = res[j]
                    yield {"task": task, "sample": j, "text": c.text, "reasoning": c.reasoning,
                           "finish_reason": c.finish_reason, "prov": prov}

    def _error(self, task, j, detail, prov=None):
        doc = tasks.make_document(task, j, "", _provenance(task, j, self.cfg.k, prov or {}, {}), self.cfg.source_prefix, {})
        yield beam.pvalue.TaggedOutput("rejects", make_reject(doc, STEP, "synth:backend_error", detail))
        yield beam.pvalue.TaggedOutput("errors", (task["id"], {"task": task, "sample": j, "error": detail}))


def _provenance(task, sample, k, prov, verification) -> dict[str, Any]:
    return {"task": task["task"], "problem_id": task["id"], "problem_uri": task["uri"], "kind": task["kind"],
            "sample": sample, "k": k, **prov, "verification": verification, "problem": {
                key: task.get(key) for key in ("question", "answer", "tests", "entry_point", "extra") if task.get(key)}}


class _NearDupFn(beam.DoFn):
    """All tasks (one list) → the distinct ones; near-duplicates are rejects naming their survivor."""

    def __init__(self, cfg):
        self.cfg = cfg

    def process(self, all_tasks):
        dups = near_duplicates([(t["id"], t.get("question") or t.get("text") or "") for t in all_tasks], self.cfg)
        for t in sorted(all_tasks, key=lambda t: t["id"]):
            if t["id"] in dups:
                yield beam.pvalue.TaggedOutput("rejects", make_reject(
                    tasks.task_as_doc(t), STEP, "synth:near_duplicate", f"near-duplicate of {dups[t['id']]} (MinHash)"))
            else:
                yield t


class _VerifyFn(beam.DoFn):
    """A batch of generations → (task id, outcome) with a reject reason or '' when verified."""

    def __init__(self, cfg: SynthConfig, decontam=None):
        self.cfg = cfg
        self.decontam = decontam
        self.index = None
        self.limits = None

    def setup(self):
        self.index = index_from_config(self.decontam) if self.decontam is not None else None
        s = self.cfg.sandbox
        self.limits = SandboxLimits(cpu_s=s.cpu_s, wall_s=s.wall_s, memory_mb=s.memory_mb, fsize_mb=s.fsize_mb,
                                    nproc=s.nproc, test_timeout_s=s.test_timeout_s, tmpfs_mb=s.tmpfs_mb)

    def _one(self, gen):
        if gen.get("finish_reason") == "length":
            return "synth:truncated", {"why": "the sample hit the token limit (finish_reason length); a cut-off "
                                              "solution is never verified", "max_new_tokens": gen["prov"]["sampling"].get("max_new_tokens")}
        if self.index:
            hit = self.index.match(gen["text"])
            if hit:
                return f"synth:contaminated:{hit.benchmark}", {"why": hit.detail()}
        try:
            return tasks.verify(gen["task"], gen["text"], self.limits)
        except Exception as e:  # noqa: BLE001 - a verifier crash rejects this sample only
            return f"error:synth:verify:{type(e).__name__}", {"why": str(e)[:500]}

    def process(self, batch):
        workers = max(1, min(self.cfg.sandbox.workers, len(batch)))
        if workers == 1:
            verdicts = [self._one(g) for g in batch]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                verdicts = list(pool.map(self._one, batch))
        for gen, (reason, detail) in zip(batch, verdicts):
            yield gen["task"]["id"], {**gen, "reason": reason, "detail": detail}


class _FinalizeFn(beam.DoFn):
    """All k outcomes of one task → Documents / rejects with the pass rate, and one summary."""

    def __init__(self, cfg: SynthConfig):
        self.cfg = cfg

    def process(self, element):
        _, outcomes = element
        outcomes = sorted(outcomes, key=lambda o: o["sample"])
        attempts = [o for o in outcomes if "error" not in o]
        passes = sum(1 for o in attempts if not o["reason"] and o["detail"].get("verified", True))
        task = outcomes[0]["task"]
        d = rate(passes, len(attempts), self.cfg.difficulty.easy_pass_rate, self.cfg.difficulty.hard_pass_rate) if attempts else None
        dj = d.to_json() if d else {"attempts": 0, "passes": 0, "pass_rate": None, "difficulty": None, "label": None}
        dj["k"] = self.cfg.k
        dj["test_pass_rates"] = test_pass_rates(task, attempts) if attempts else None
        scores = {"synth_pass_rate": d.pass_rate, "synth_difficulty": d.score} if d else {}
        for o in attempts:
            verified = o["detail"].get("verified", True)
            o["detail"]["verified"] = bool(verified and not o["reason"])
            prov = _provenance(task, o["sample"], self.cfg.k, o["prov"], o["detail"])
            prov.update(difficulty=dj, answer=o["text"], reasoning=o.get("reasoning") or "",
                        finish_reason=o.get("finish_reason"))
            doc = tasks.make_document(task, o["sample"], o["text"], prov, self.cfg.source_prefix,
                                      {**scores, "synth_verified": 1.0 if verified else 0.0},
                                      o.get("reasoning") or "", self.cfg.text_template)
            if o["reason"]:
                yield beam.pvalue.TaggedOutput("rejects", make_reject(doc, STEP, o["reason"], json.dumps(o["detail"], default=str)[:2000]))
            else:
                yield doc
        yield beam.pvalue.TaggedOutput("summaries", {"task": task, "errors": len(outcomes) - len(attempts), **dj})


def _stats(summaries):
    def fold(rows):
        out = {"tasks": len(rows), "attempts": 0, "passes": 0, "labels": {}}
        for r in rows:
            out["attempts"] += r["attempts"]
            out["passes"] += r["passes"]
            lab = str(r["label"])
            out["labels"][lab] = out["labels"].get(lab, 0) + 1
        out["pass_rate"] = round(out["passes"] / out["attempts"], 6) if out["attempts"] else None
        return out

    return (summaries | "SlimSummary" >> beam.Map(lambda s: {"attempts": s["attempts"], "passes": s["passes"], "label": s["label"]})
            | "AllSummaries" >> beam.combiners.ToList() | "FoldSummaries" >> beam.Map(fold))


class Synthesize(beam.PTransform):
    """Problem lines/records or Documents → {"docs", "rejects", "stats", "summaries"}.

    ``docs``: verified generations as Documents (format=synthetic, provenance in meta);
    ``rejects``: every input or sample not kept, with its reason; ``summaries``: one record per
    task with its pass rate and difficulty. After application, ``parts`` holds the counted
    parts as (name, inputs, outputs, rejects) for the step runner.
    """

    def __init__(self, cfg: SynthConfig, cache_dir: str | None = None, dedup=None, decontam=None):
        super().__init__()
        self.cfg = cfg
        self.dedup = dedup  # a DedupConfig: drop near-duplicate tasks before sampling
        self.decontam = decontam  # a DecontamConfig: inputs and generations checked against its benchmarks
        self.cache_dir = cache_dir if cache_dir is not None else cfg.backend.cache_dir
        self.templates = load_templates(cfg.prompts)
        self.parts: list[tuple[str, Any, Any, Any]] = []

    def expand(self, inputs):
        cfg = self.cfg
        prep = inputs | "Prepare" >> beam.ParDo(_PrepareFn(cfg, self.decontam)).with_outputs("rejects", main="tasks")
        tasks, rejects, parts = prep.tasks, [prep.rejects], [("problems", inputs, prep.tasks, prep.rejects)]
        if self.dedup is not None:
            nd = (prep.tasks | "AllTasks" >> beam.combiners.ToList()
                  | "NearDups" >> beam.ParDo(_NearDupFn(self.dedup)).with_outputs("rejects", main="tasks"))
            tasks = nd.tasks
            rejects.append(nd.rejects)
            parts.append(("near_dups", prep.tasks, nd.tasks, nd.rejects))
        k = cfg.k
        slots = tasks | "Slots" >> beam.FlatMap(lambda t: [t["id"]] * k)
        gen = (tasks
               | "BatchTasks" >> beam.BatchElements(min_batch_size=1, max_batch_size=cfg.backend.batch_size)
               | "Generate" >> beam.ParDo(_GenerateFn(cfg, self.templates, self.cache_dir)).with_outputs(
                   "rejects", "errors", main="gens"))
        verified = (gen.gens
                    | "BatchGens" >> beam.BatchElements(min_batch_size=1, max_batch_size=max(1, cfg.sandbox.workers * 4))
                    | "Verify" >> beam.ParDo(_VerifyFn(cfg, self.decontam)))
        fin = ((verified, gen.errors) | "AllOutcomes" >> beam.Flatten()
               | "ByTask" >> beam.GroupByKey()
               | "Finalize" >> beam.ParDo(_FinalizeFn(cfg)).with_outputs("rejects", "summaries", main="docs"))
        rejects += [gen.rejects, fin.rejects]
        self.parts = parts + [
            ("generate", slots, gen.gens, gen.rejects),
            ("verify", gen.gens, fin.docs, fin.rejects),
        ]
        return {"docs": fin.docs, "rejects": rejects, "summaries": fin.summaries, "tasks": tasks,
                "stats": {"synth": _stats(fin.summaries)}}


class _RateFn(beam.DoFn):
    def __init__(self, cfg: SynthConfig):
        self.cfg = cfg

    def process(self, summary):
        task = summary["task"]
        dc = self.cfg.difficulty
        if summary["attempts"]:
            d = Difficulty(summary["attempts"], summary["passes"], summary["pass_rate"], summary["difficulty"], summary["label"])
            easy = in_easy_pool(d, dc.easy_pool_pass_rate)
            summary = {**summary, "easy_pool": easy, "resample_prob": dc.easy_resample_prob if easy else 1.0}
        doc = problem_document(task, summary)
        if not summary["attempts"]:
            yield beam.pvalue.TaggedOutput("rejects", make_reject(doc, "problems", "synth:backend_error",
                                                                  f"all {summary['errors']} samples failed in the backend"))
            return
        why = keep_problem(d, dc.drop_unsolved)
        if why:
            yield beam.pvalue.TaggedOutput("rejects", make_reject(doc, "problems", why, json.dumps(d.to_json())))
        else:
            yield doc


class ProblemSet(beam.PTransform):
    """Problems → the curated, verifiable problem set with difficulties (``curate problems``).

    Near-duplicate problems are removed before sampling (``cfg.problem_dedup``). Output ``docs``
    are problem Documents (format=text; meta.problem is the problem record, meta.difficulty its
    pass rate, per-test pass rates over k samples and easy-pool flag); unsolved ones are rejects
    only when configured. ``parts`` adds ``rate`` to Synthesize's counted parts.
    """

    def __init__(self, cfg: SynthConfig, cache_dir: str | None = None, decontam=None):
        super().__init__()
        self.synth = Synthesize(cfg, cache_dir, dedup=cfg.problem_dedup, decontam=decontam)
        self.cfg = cfg
        self.parts: list[tuple[str, Any, Any, Any]] = []

    def expand(self, inputs):
        res = inputs | "Synthesize" >> self.synth
        rated = res["summaries"] | "Rate" >> beam.ParDo(_RateFn(self.cfg)).with_outputs("rejects", main="docs")
        self.parts = self.synth.parts + [("rate", res["tasks"], rated.docs, rated.rejects)]
        rejects = [*as_list(res["rejects"]), rated.rejects]
        return {"docs": rated.docs, "rejects": rejects, "solutions": res["docs"], "stats": res["stats"]}


class SelectRewrites(beam.PTransform):
    """Pool Documents → the ones to rewrite (``tasks.choose_rewrites``: rewrite_domains, up to
    rewrite_max_tokens); the others are not inputs of the step and stay in their pool. With a
    budget, the (id, domain, tokens) of the pool's documents of those domains meet on one worker."""

    def __init__(self, s: SynthConfig, seed: int):
        super().__init__()
        self.domains, self.max_tokens, self.seed = list(s.rewrite_domains), s.rewrite_max_tokens, seed

    def expand(self, docs):
        domains = self.domains
        ours = docs | "InDomains" >> beam.Filter(lambda d: d.get("domain") in domains)
        if self.max_tokens is None:
            return ours
        chosen = (ours | "Slim" >> beam.Map(lambda d: (d["id"], d.get("domain"), estimated_tokens(d.get("text") or "")))
                  | "AllSlim" >> beam.combiners.ToList()
                  | "Choose" >> beam.Map(choose_rewrites, domains, self.max_tokens, self.seed))
        return ours | "Chosen" >> beam.Filter(lambda d, ids: d["id"] in ids, beam.pvalue.AsSingleton(chosen))
