"""Configuration of the extract step (the `extract:` section of a stage YAML)."""

from typing import Literal

from pydantic import Field

from curate.configbase import Section


class HTMLConfig(Section):
    max_bytes: int = Field(
        20_000_000, gt=0, description="Pages larger than this many bytes are rejected as extract:too_large."
    )
    min_chars: int = Field(
        100, ge=0, description="Extracted text shorter than this is rejected as extract:html:too_short."
    )
    favor_recall: bool = Field(
        False, description="Passed to trafilatura: keep more text at the cost of more boilerplate."
    )
    favor_precision: bool = Field(
        True,
        description="Passed to trafilatura: select less text, with less boilerplate. On by default: math and "
        "code are kept by the lxml passes either way, and the main-text F1 of the article benchmark is higher.",
    )
    include_comments: bool = Field(
        False, description="Passed to trafilatura: keep the comment sections it finds under an article. Off: "
        "reader comments on news and blog pages are mostly noise; Q&A answers and their comments are read by "
        "`threads` and `thread_comments` instead."
    )
    include_tables: bool = Field(True, description="Keep tables, written as Markdown tables.")
    threads: bool = Field(
        True,
        description="Read a Q&A or forum page (two posts or more, named by its markup) as a thread: the "
        "question and every answer or reply are main content, not only the block trafilatura picks.",
    )
    thread_comments: bool = Field(
        True, description="With threads: keep the comments under each post (Stack Exchange style), after it."
    )
    emphasis: bool = Field(
        False,
        description="Write bold/italic as `**`/`*` markers. False (training text): plain words. True also makes "
        "trafilatura select content in its formatting mode, which keeps slightly different text.",
    )


class PDFConfig(Section):
    max_pages: int = Field(2000, gt=0, description="PDFs with more pages are rejected as extract:pdf:too_many_pages.")
    min_chars: int = Field(50, ge=0, description="Extracted text shorter than this is rejected as extract:pdf:empty.")
    reject_truncated: bool = Field(
        False,
        description="Reject PDFs that end before their %%EOF (extract:pdf:truncated) even when MuPDF recovers "
        "pages from them. False: keep the recovered pages and set meta.truncated.",
    )
    tables: bool = Field(
        True, description="Turn tables PyMuPDF finds (on pages with ruling lines) into Markdown tables."
    )
    header_footer_margin: float = Field(
        0.12, ge=0, le=0.5,
        description="Share of the page height at the top and the bottom where running headers, footers and "
        "page numbers are looked for.",
    )
    header_footer_min_share: float = Field(
        0.3, ge=0, le=1,
        description="A line in the header/footer band is dropped when its text (digits masked) recurs on at "
        "least this share of the pages (and on two pages at least).",
    )
    ocr_routing: bool = Field(
        True, description="Route scanned and math-heavy pages to OCR. False: every page keeps its text layer."
    )
    scanned_max_chars: int = Field(
        100,
        ge=0,
        description="A page with fewer text-layer characters than this, and images covering "
        "scanned_min_image_coverage of it, is a scanned page (route: ocr).",
    )
    scanned_min_image_coverage: float = Field(
        0.5, ge=0, le=1,
        description="Share of the page area images must cover for a page with little text to count as scanned.",
    )
    math_min_chars: int = Field(
        20, ge=0, description="Pages with fewer text-layer characters are never routed as math-heavy."
    )
    math_font_ratio: float = Field(
        0.10, ge=0, le=1,
        description="Route a page to OCR when at least this share of its characters is set in math fonts "
        "(CMMI, CMSY, CMEX, MSBM, STIX Math, Cambria Math, …).",
    )
    formula_lines_min: int = Field(
        3, ge=1, description="Route a page with at least this many formula-shaped lines (and formula_line_ratio)."
    )
    formula_line_ratio: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Formula-shaped lines must also be at least this share of the page's lines for "
        "formula_lines_min to route it.",
    )
    symbol_ratio: float = Field(
        0.05, ge=0, le=1,
        description="Route a page when at least this share of its characters are math symbols or Greek letters.",
    )
    nougat_checkpoint: str | None = Field(
        None,
        description="Local directory of a Nougat checkpoint (transformers format). Scanned and math-heavy "
        "pages go to it first. None: scanned pages go to Tesseract, math-heavy pages keep their text layer.",
    )
    nougat_device: str = Field(
        "auto", description="torch device for Nougat: auto (cuda when present, else cpu), cpu, cuda, cuda:1, …"
    )
    nougat_dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="Nougat weights' dtype; auto: bfloat16 on CUDA, float32 on CPU."
    )
    nougat_batch_size: int = Field(4, gt=0, description="Pages per Nougat forward pass.")
    nougat_max_new_tokens: int = Field(
        3584, gt=0, description="Longest Nougat output per page, in tokens (Nougat's own limit is 3584)."
    )
    nougat_repetition_chars: int = Field(
        60, gt=0,
        description="Nougat output whose tail repeats one unit 3+ times over at least this many characters is a "
        "decoding loop: the page is rejected by Nougat (reason nougat:repetition) and goes to the next engine.",
    )
    tesseract: bool = Field(
        True,
        description="OCR scanned pages with Tesseract (CPU) when Nougat is not configured or rejected the page. "
        "Needs the tesseract program with its language data and pytesseract; without them (and without "
        "Nougat) a scanned page is counted as extract:pdf:ocr_unavailable.",
    )
    tesseract_lang: str = Field(
        "eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages, '+'-joined (eng, eng+deu); each needs Debian's tesseract-ocr-<lang>.",
    )
    tesseract_dpi: int = Field(300, ge=72, le=600, description="Resolution pages are rendered at for Tesseract.")
    tesseract_max_megapixels: float = Field(
        50.0, gt=0, description="A page rendered larger than this is rendered at a lower DPI (posters, A0 plans)."
    )
    tesseract_psm: int = Field(
        3, ge=0, le=13, description="Tesseract page segmentation mode (3: automatic layout, columns included)."
    )
    tesseract_min_confidence: float = Field(
        60.0, ge=0, le=100,
        description="Tesseract output whose mean word confidence (0-100, character-weighted) is below this is "
        "rejected (reason tesseract:low_confidence): the page keeps its (near-empty) text layer, never garbage.",
    )
    tesseract_threads: int = Field(
        1, ge=1,
        description="OpenMP threads per Tesseract run (OMP_THREAD_LIMIT). 1: workers already use one core each.",
    )
    tesseract_timeout_s: float = Field(
        60.0, gt=0, description="Longest Tesseract run on one page; a slower page counts as OCR failed."
    )


class ExtractConfig(Section):
    html: HTMLConfig = Field(default_factory=HTMLConfig, description="HTML extraction (trafilatura + lxml).")
    pdf: PDFConfig = Field(default_factory=PDFConfig, description="PDF extraction (PyMuPDF; Nougat route).")
    timeout_s: float = Field(
        30.0, gt=0, description="Wall-time limit per document; slower documents are rejected as extract:timeout."
    )
    isolate: bool = Field(
        True,
        description="Run extractors in a child process per worker, so a timeout, a crash or a memory "
        "blow-up costs one document (extract:timeout / extract:crashed / extract:out_of_memory).",
    )
    processes: int | None = Field(
        None, ge=1,
        description="Extraction child processes per Beam worker (with isolate), each fed chunks of records. "
        "None: the cores each worker may use: all of them on the in-process runner (the default), cores ÷ "
        "--direct_num_workers with multi_processing, one on other runners (Dataflow, Spark, Flink and Dask "
        "already run a worker per core). Never changes the output, so it is not part of the step's key.",
    )
    max_memory_mb: int | None = Field(
        8192, gt=0,
        description="Memory cap of the extraction child process, MB; None: no cap. An address-space limit "
        "(RLIMIT_AS), or a resident-memory watchdog when Nougat may run on a GPU (CUDA cannot start under "
        "RLIMIT_AS). Over it: extract:out_of_memory.",
    )
    max_output_chars: int = Field(
        2_000_000, gt=0, description="Extracted text longer than this is rejected as extract:too_large."
    )
