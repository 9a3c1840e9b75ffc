"""Configuration of the filter step (the `filter:` section of a stage YAML).

Every rule threshold can be set to ``null`` to switch that one rule off; each rule group has
``enabled``. Classifiers run only when their model path is set; they drop documents only when
their ``min_score`` is set (otherwise they just write ``scores``).
"""

from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from curate.configbase import Section


class GopherQualityConfig(Section):
    enabled: bool = Field(True, description="Apply the Gopher quality rules (filter:gopher:*).")
    min_mean_word_length: float | None = Field(3.0, description="Mean prose word length below this → filter:gopher:mean_word_length.")
    max_mean_word_length: float | None = Field(10.0, description="Mean prose word length above this → filter:gopher:mean_word_length.")
    max_symbol_word_ratio: float | None = Field(
        0.1, description="('#' + ellipses) per prose word above this → filter:gopher:symbol_ratio. Math and code are "
        "not prose, and Markdown heading marks are not symbols.")
    max_bullet_lines_ratio: float | None = Field(0.9, description="Share of prose lines starting with a bullet above this → filter:gopher:bullet_lines.")
    max_ellipsis_lines_ratio: float | None = Field(0.3, description="Share of prose lines ending in an ellipsis above this → filter:gopher:ellipsis_lines.")
    min_alpha_words_ratio: float | None = Field(0.8, description="Share of prose words with a letter below this → filter:gopher:alpha_words (a formula counts as one word with letters).")
    min_stop_words: int | None = Field(2, description="Fewer English stop words (the, be, to, of, and, that, have, with) in the prose → filter:gopher:stop_words.")


class GopherRepetitionConfig(Section):
    enabled: bool = Field(True, description="Apply the Gopher repetition rules (filter:gopher_rep:*) to the prose (code is exempt).")
    max_dup_line_frac: float | None = Field(0.3, description="Share of prose lines that are duplicates → filter:gopher_rep:dup_lines.")
    max_dup_para_frac: float | None = Field(0.3, description="Share of paragraphs that are duplicates → filter:gopher_rep:dup_paragraphs.")
    max_dup_line_char_frac: float | None = Field(0.2, description="Share of prose characters in duplicate lines → filter:gopher_rep:dup_line_chars.")
    max_dup_para_char_frac: float | None = Field(0.2, description="Share of characters in duplicate paragraphs → filter:gopher_rep:dup_para_chars.")
    top_ngram_max_frac: dict[int, float] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16},
        description="n → most share of characters covered by the single most frequent n-gram → filter:gopher_rep:top_<n>gram.")
    dup_ngram_max_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n → most share of characters covered by repeated n-grams → filter:gopher_rep:dup_<n>gram.")


class C4Config(Section):
    enabled: bool = Field(True, description="Apply the C4 rules (filter:c4:*), document-level.")
    min_sentences: int | None = Field(3, description="Fewer prose sentences → filter:c4:min_sentences.")
    max_word_length: int | None = Field(1000, description="A prose word longer than this → filter:c4:word_length.")
    lorem_ipsum: bool = Field(True, description="Prose containing 'lorem ipsum' → filter:c4:lorem_ipsum.")
    curly_bracket: bool = Field(True, description="A '{' in the prose (outside math and code) → filter:c4:curly_bracket.")
    max_javascript_lines_ratio: float | None = Field(0.1, description="Share of prose lines mentioning 'javascript' → filter:c4:javascript.")
    max_policy_lines_ratio: float | None = Field(0.1, description="Share of prose lines that are cookie/terms/privacy notices → filter:c4:policy.")


class FineWebConfig(Section):
    enabled: bool = Field(True, description="Apply FineWeb's extra rules (filter:fineweb:*).")
    min_line_punct_ratio: float | None = Field(0.12, description="Share of prose lines ending in terminal punctuation below this → filter:fineweb:line_punct.")
    max_short_line_ratio: float | None = Field(0.67, description="Share of prose lines shorter than 30 characters above this → filter:fineweb:short_lines.")
    max_char_dup_ratio: float | None = Field(0.01, description="Share of prose characters in repeated lines above this → filter:fineweb:char_dup.")
    max_newline_word_ratio: float | None = Field(0.3, description="Prose lines per prose word above this → filter:fineweb:list_ratio.")


class FastTextQualityConfig(Section):
    model: str | None = Field(None, description="fastText quality model (.bin/.ftz from `curate classifier train --kind fasttext`); None: not run.")
    min_score: float | None = Field(None, ge=0, le=1, description="Drop documents whose scores.fasttext_quality (P(high quality)) is below this → filter:fasttext_quality; None: score only.")


class LMQualityConfig(Section):
    model: str | None = Field(None, description="Small-LM quality model directory (from `curate classifier train --kind lm`); None: not run.")
    min_score: float | None = Field(None, ge=0, le=5, description="Drop documents whose scores.lm_quality (0–5) is below this → filter:lm_quality; None: score only. FineWeb-Edu used 3.")
    batch_size: int = Field(32, ge=1, description="Documents per encoder forward pass.")
    max_length: int = Field(512, ge=8, description="Tokens of each document the encoder reads (the start of the document).")
    device: str = Field("auto", description="torch device; `auto` uses CUDA when present, else CPU.")


class DomainConfig(Section):
    code_min_frac: float = Field(0.2, ge=0, le=1, description="Signal classifier: documents with at least this share of non-space characters in code are `code`.")
    code_min_frac_with_block: float = Field(
        0.1, ge=0, le=1, description="Signal classifier: a document with a fenced code block needs only this share of code to be `code`.")
    math_min_frac: float = Field(0.03, ge=0, le=1, description="Signal classifier: at least this share of characters in math spans (and math_min_spans spans) is `math`.")
    math_min_spans: int = Field(3, ge=1, description="Signal classifier: fewest math spans for `math`.")
    model: str | None = Field(None, description="Optional fastText domain model (labels __label__math/code/general/…, from `curate classifier train --kind fasttext --labels`); used when its top probability ≥ min_prob, else the signal classifier decides.")
    min_prob: float = Field(0.5, ge=0, le=1, description="Least probability at which the fastText domain model's label is taken.")


class PrefilterConfig(Section):
    """The cheap checks that still run when the small-LM classifier is the judge (``judge: lm``):
    only the obviously broken is dropped before the model sees a document."""

    max_control_frac: float | None = Field(
        0.01, ge=0, le=1, description="Share of characters that are control characters or U+FFFD (binary or mis-decoded "
        "bytes) above this → filter:binary. Applies with either judge.")
    wall_max_dup_line_frac: float | None = Field(
        0.7, ge=0, le=1, description="Judge lm: share of prose lines that repeat an earlier line above this → filter:spam_wall:dup_lines.")
    wall_max_top_2gram_frac: float | None = Field(
        0.4, ge=0, le=1, description="Judge lm: share of prose characters in the single most frequent word pair above this → filter:spam_wall:top_2gram.")


# Rules made for the documents they judge. A profile overrides keys of the filter section
# (rule groups, min_words, min_prose_words, code_exempt_frac) for documents of one kind; the
# rest is inherited. Each default below is a reason, not a guess:
#  * math and code: C4's '{' rule hunts for JavaScript in prose; on a page about maths or code
#    a brace outside the marked-up spans is AsciiMath, set notation or code the page did not
#    fence. Forum threads quote earlier posts and tutorials repeat labels ("Output", "Copy"),
#    so prose repetition is judged at about three times Gopher's web limits, and FineWeb's
#    duplicate-line-character rule (the statistic of Gopher's dup_line_chars at 1/20 of its
#    limit) at 30%. Ratio and repetition rules need 50 prose words, line-ratio rules 5 prose
#    lines: a listing with a title line, or a forum thread flattened into three long lines,
#    has no prose statistics to measure. A line that leads into a listing or a derivation
#    often ends in "…" ("the following configuration..."): ellipsis lines up to half.
#  * paper (documents extracted from PDF, when not math or code): running heads, defined terms
#    repeated through legal and technical text, set braces in a text layer without TeX.
_WEB_PROSE_REP = {
    "max_dup_line_frac": 0.5, "max_dup_para_frac": 0.5, "max_dup_line_char_frac": 0.5, "max_dup_para_char_frac": 0.5,
    "top_ngram_max_frac": {2: 0.4, 3: 0.36, 4: 0.32},
    "dup_ngram_max_frac": {5: 0.45, 6: 0.44, 7: 0.43, 8: 0.42, 9: 0.41, 10: 0.40},
}
DEFAULT_PROFILES: dict[str, dict[str, Any]] = {
    "math": {"min_prose_words": 50, "min_prose_lines": 5, "c4": {"curly_bracket": False},
             "gopher": {"max_ellipsis_lines_ratio": 0.5},
             "gopher_repetition": _WEB_PROSE_REP, "fineweb": {"max_char_dup_ratio": 0.3}},
    "code": {"min_prose_words": 50, "min_prose_lines": 5, "c4": {"curly_bracket": False},
             "gopher": {"max_ellipsis_lines_ratio": 0.5},
             "gopher_repetition": _WEB_PROSE_REP, "fineweb": {"max_char_dup_ratio": 0.3}},
    "paper": {"min_prose_lines": 5, "c4": {"curly_bracket": False}, "gopher_repetition": _WEB_PROSE_REP,
              "fineweb": {"max_char_dup_ratio": 0.1}},
}
PROFILE_KEYS = frozenset({"min_words", "min_prose_words", "min_prose_lines", "code_exempt_frac", "gopher", "gopher_repetition", "c4", "fineweb"})


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in (
            "top_ngram_max_frac", "dup_ngram_max_frac") else v
    return out


class FilterConfig(Section):
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Keep documents whose language is one of these (ISO 639-1); empty list keeps all.",
    )
    min_lang_score: float = Field(0.5, ge=0, le=1, description="Minimum language-id confidence.")
    lang_model: str = Field(
        "py3langid",
        description="Language-id model: `py3langid` (ships with the py3langid package, 97 languages), or the path of a "
        "fastText language-id model (lid.176.bin / lid.176.ftz, 176 languages, faster).",
    )
    lang_max_chars: int = Field(2000, ge=100, description="Language id reads this many characters of prose (math and code removed).")
    lang_min_chars: int = Field(
        20, ge=0, description="With fewer prose letters the language is `und`; such a document passes the language "
        "filter only when its domain is code or math (else filter:lang).")
    min_words: int = Field(50, ge=0, description="Gopher: fewer words than this is rejected (filter:gopher:word_count). Prose words, code tokens and the tokens of formulas count.")
    max_words: int = Field(100_000, gt=0, description="Gopher: more words than this is rejected.")
    code_exempt_frac: float = Field(
        0.3, ge=0, le=1, description="Documents with at least this share of characters in code skip the prose-only rules "
        "(stop words, mean word length, min sentences, line punctuation, short lines, lines per word).")
    min_prose_words: int = Field(
        0, ge=0, description="The prose ratio and repetition rules (Gopher quality except word_count, Gopher repetition, "
        "C4 sentences/JavaScript/policy, FineWeb) run only on documents with at least this many prose words; 0: always. "
        "Profiles for math and code set it (a listing with a title line has no prose to measure).")
    min_prose_lines: int = Field(
        0, ge=0, description="The line-ratio rules (bullet, ellipsis, JavaScript and policy lines, line punctuation, "
        "short lines) run only on documents with at least this many prose lines; 0: always.")
    lang_fallback: dict[str, str] = Field(
        default_factory=dict, description="Source name → ISO 639-1 language, for documents whose prose is too short to "
        "identify (or identified as zxx, no linguistic content) and whose page metadata (HTML lang) names none.")
    profiles: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_PROFILES.items()},
        description="Rule overrides per kind of document: `math` and `code` (the domain), `paper` (extracted from PDF "
        "and neither); other documents use the section itself (`general`). Keys: " + ", ".join(sorted(PROFILE_KEYS)) +
        ". The defaults and their reasons are in filters/config.py (DEFAULT_PROFILES); `{}` judges every document by the web rules.")
    judge: Literal["auto", "rules", "lm"] = Field(
        "auto", description="Who decides: `rules` (the heuristics, per profile), `lm` (the small-LM classifier decides; "
        "rules shrink to the prefilter) or `auto` (lm when lm.model and lm.min_score are set, else rules).")
    prefilter: PrefilterConfig = Field(default_factory=PrefilterConfig)
    gopher: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    c4: C4Config = Field(default_factory=C4Config)
    fineweb: FineWebConfig = Field(default_factory=FineWebConfig)
    fasttext: FastTextQualityConfig = Field(default_factory=FastTextQualityConfig)
    lm: LMQualityConfig = Field(default_factory=LMQualityConfig)
    domain: DomainConfig = Field(default_factory=DomainConfig)
    keep_domains: list[str] = Field(default_factory=list, description="Keep only these domains (filter:domain otherwise); empty keeps all.")
    batch_size: int = Field(64, ge=1, description="Documents per filter batch in the pipeline (classifiers score a batch at once).")
    processes: int | None = Field(
        None, ge=1,
        description="Processes per Beam worker that judge batches (spawned children that load the models once). "
        "None: the cores each worker may use, as extract.processes (one when the small-LM classifier may run on a "
        "GPU: one copy of the model). The first few thousand documents of a "
        "worker are judged in the worker itself, so a small run starts no child. Never changes the output.",
    )
    mode: Literal["filter", "score"] = Field(
        "filter", description="`filter` drops documents that fail; `score` only writes lang, domain and scores and keeps all.")

    _profiles: dict[str, "FilterConfig"] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _build_profiles(self) -> "FilterConfig":
        if self.judge == "lm" and not (self.lm.model and self.lm.min_score is not None):
            raise ValueError("filter.judge: lm needs filter.lm.model and filter.lm.min_score")
        base = self.model_dump(include=set(PROFILE_KEYS))
        built = {}
        for name, over in self.profiles.items():
            bad = sorted(set(over) - PROFILE_KEYS)
            if bad:
                raise ValueError(f"filter.profiles.{name}: unknown key(s) {bad}; allowed: {sorted(PROFILE_KEYS)}")
            try:
                built[name] = FilterConfig.model_validate({**self.model_dump(), **_merge(base, over), "profiles": {}})
            except ValidationError as e:
                raise ValueError(f"filter.profiles.{name}: {e}") from None
        self._profiles = built
        return self

    @property
    def lm_judges(self) -> bool:
        """True when the small-LM classifier, not the rules, decides what is kept."""
        return self.judge == "lm" or (self.judge == "auto" and bool(self.lm.model) and self.lm.min_score is not None)

    def profile(self, name: str) -> "FilterConfig":
        """The rule configuration for documents of kind ``name`` (itself when no profile is set)."""
        return self._profiles.get(name, self)
