"""Failures that look like success: a step whose work raises on every document stops (the
failure budget), a lying single-byte charset label is caught and recorded, and a PDF that
PyMuPDF cannot count is an invalid PDF, not an extractor error."""

import codecs

import pymupdf
import pytest
from click.testing import CliRunner

from curate import budget
from curate.budget import FailureBudget, StepFailed
from curate.config import StageConfig, default_config, parse_config
from curate.errors import InputError, Reject
from curate.extractors.config import PDFConfig
from curate.extractors.html import HTMLExtractor
from curate.extractors.pdf import PDFExtractor
from curate.io.charset import decode_html, decode_page
from curate.pipelines import steps
from curate.pipelines.runner import load_manifest
from curate.sample.generate import sample_sources
from curate.schema import new_document
from mixhelp import commit_pool

# ------------------------------------------------------------------ failure budget: real steps


def _extract_cfg():
    cfg = default_config("stage2")
    cfg.extract.isolate = False  # extractors in this process, so the monkeypatch reaches them
    return cfg


def _extract(cfg, sample_dir, out):
    items = steps.source_items(sample_sources(str(sample_dir)))
    return steps.extract_step(cfg, items, str(out), str(out), [], log=lambda m: None)


def test_extractor_raising_on_every_document_stops_the_step(sample_dir, tmp_path, monkeypatch):
    def explode(self, content, uri, declared_charset=None):
        raise RuntimeError(f"parser exploded on {uri}")

    monkeypatch.setattr(HTMLExtractor, "extract", explode)
    out = tmp_path / "ex"
    with pytest.raises(StepFailed) as e:
        _extract(_extract_cfg(), sample_dir, out)
    msg = str(e.value)
    assert "\n" not in msg
    assert "step extract stopped" in msg and "in extract" in msg
    assert "top reason error:extract:RuntimeError ×" in msg
    count = int(msg.split("error:extract:RuntimeError ×")[1].split(",")[0])
    assert count >= 30  # every HTML page of the sample (folder pages and WARC records)
    uri = msg.split(", e.g. ")[1].split(" (")[0]
    assert uri and f"parser exploded on {uri}" in msg  # the example is a real rejected input
    assert load_manifest(str(out)) is None  # not committed: a rerun after the fix runs it again


def test_ordinary_rejects_never_count(sample_dir, tmp_path, monkeypatch):
    def refuse(self, content, uri, declared_charset=None):
        raise Reject("extract:html:empty", "no main content found")

    monkeypatch.setattr(HTMLExtractor, "extract", refuse)
    _, m = _extract(_extract_cfg(), sample_dir, tmp_path / "ex")
    rejects = m["counts"]["extract"]["rejects"]
    assert rejects["extract:html:empty"] >= 30 and not any(r.startswith("error:") for r in rejects)
    assert load_manifest(str(tmp_path / "ex"))["key"] == m["key"]


def _pool(tmp_path, n):
    pool = tmp_path / "pool"
    (pool / "docs").mkdir(parents=True)
    text = "A plain paragraph of ordinary English prose about the weather and the town library. " * 4
    docs = [new_document(source="t", uri=f"mem://doc/{i}", format="text", text=text, offset=i) for i in range(n)]
    commit_pool(str(pool), docs)  # committed by the step runner, as a step output is
    return pool


def test_classifier_raising_stops_filter_with_one_line_and_exit_1(tmp_path, monkeypatch):
    from curate.cli import cli
    from curate.filters.apply import DocumentFilter

    def broken(self, docs):
        raise ValueError("classifier weights are all NaN")

    monkeypatch.setattr(DocumentFilter, "judge", broken)
    pool, out = _pool(tmp_path, 12), tmp_path / "out"
    r = CliRunner().invoke(cli, ["filter", str(pool), "--output", str(out)])
    assert r.exit_code == 1, r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in r.output, r.output
    assert errors[0].startswith("Error: step filter stopped: 12 of 12 documents")
    assert "error:filter:ValueError ×12" in errors[0] and "e.g. mem://doc/" in errors[0]
    assert "classifier weights are all NaN" in errors[0]
    assert not (out / "manifest.json").exists()


def test_the_configured_budget_governs_the_step(tmp_path, monkeypatch):
    from curate.filters.apply import DocumentFilter

    monkeypatch.setattr(DocumentFilter, "judge", lambda self, docs: 1 / 0)
    pool = _pool(tmp_path, 4)
    cfg = default_config("stage2")

    def run(out, cfg):
        return steps.filter_step(cfg, [str(pool)], steps.pool_keys([str(pool)]), str(tmp_path / out),
                                 str(tmp_path / out), [], log=lambda m: None)

    _, m = run("default", cfg)  # 4 errors: a tiny run, under min_errors
    assert m["counts"]["filter"]["rejects"] == {"error:filter:ZeroDivisionError": 4}
    strict = cfg.model_copy(update={"failure_budget": FailureBudget(min_errors=2)})
    with pytest.raises(StepFailed, match=r"×4, e\.g\. mem://doc/"):
        run("strict", strict)


# ------------------------------------------------------------------ failure budget: the rule


def _counts(n_in, **rejects):
    rej = {k.replace("__", ":"): v for k, v in rejects.items()}
    return {"part": {"in": n_in, "out": n_in - sum(rej.values()), "rejected": sum(rej.values()), "rejects": rej}}


@pytest.mark.parametrize("counts,fails", [
    (_counts(10, error__extract__X=1), False),  # 1 in 10: a small run's bad luck
    (_counts(9, error__extract__X=9), False),  # all of a tiny run, under min_errors
    (_counts(10, error__extract__X=10), True),
    (_counts(2000, error__extract__X=20), False),  # exactly 1%: not over
    (_counts(2000, error__extract__X=15, error__read__OSError=6), True),  # 21 > 1%, reasons summed
    (_counts(100, filter__gopher__word_count=60, dedup__exact=30, read__empty=5, extract__pdf__invalid=5), False),
])
def test_budget_rule(counts, fails, tmp_path):
    if fails:
        with pytest.raises(StepFailed, match="top reason error:extract:X"):
            budget.check("s", counts, lambda reason: None)
    else:
        budget.check("s", counts, lambda reason: None)


def test_budget_config_is_documented_and_overridable():
    assert issubclass(StepFailed, InputError)  # the CLI shows InputError as one line, exit 1
    field = StageConfig.model_fields["failure_budget"]
    assert "1%" in field.description and "10" in field.description
    fb = default_config("stage2").failure_budget
    assert (fb.max_error_share, fb.min_errors) == (0.01, 10)
    cfg = parse_config({"stage": "stage2", "failure_budget": {"max_error_share": 0.05, "min_errors": 3}})
    assert (cfg.failure_budget.max_error_share, cfg.failure_budget.min_errors) == (0.05, 3)
    with pytest.raises(Exception, match="failure_budget.max_error_share"):
        parse_config({"stage": "stage2", "failure_budget": {"max_error_share": 2}})


# ------------------------------------------------------------------ lying charset labels


def _page(body: str, label: str) -> str:
    return (f"<html><head><meta charset='{label}'><title>t</title></head>"
            f"<body><article><p>{body}</p></article></body></html>")


RU = "Привет, мир! Это обычная страница на русском языке, где много текста о погоде и новостях. "
FR = "Le café du coin sert un excellent petit déjeuner tous les matins. Où est la gare? Très bien. "


@pytest.mark.parametrize("body,true,label,declared", [
    (RU, "utf-8", "iso-8859-1", "iso8859-1"),
    (FR, "utf-8", "windows-1252", "cp1252"),
    (RU, "cp1251", "iso-8859-1", "iso8859-1"),
    (RU, "cp1251", "windows-1252", "cp1252"),
    (RU, "koi8-r", "iso-8859-1", "iso8859-1"),
    ("Καλημέρα κόσμε, αυτή είναι μια ελληνική σελίδα με αρκετό κείμενο.", "cp1253", "iso-8859-1", "iso8859-1"),
    ("Zażółć gęślą jaźń. Łódź jest dużym miastem w Polsce. ", "cp1250", "iso-8859-1", "iso8859-1"),
])
def test_lying_single_byte_label_is_overruled_and_recorded(body, true, label, declared):
    d = decode_page(_page(body, label).encode(true))
    assert body in d.text
    assert d.encoding == codecs.lookup(true).name
    assert d.conflict is not None
    assert (d.conflict["declared"], d.conflict["from"], d.conflict["used"]) == (declared, "meta", d.encoding)
    assert decode_html(_page(body, label).encode(true))[0] == d.text


def test_lying_http_charset_is_recorded():
    d = decode_page(_page(RU, "utf-8").encode("utf-8"), "ISO-8859-1")
    assert RU in d.text
    assert d.conflict == {"declared": "iso8859-1", "from": "http", "used": "utf-8", "why": "valid UTF-8"}
    d = decode_page(_page(RU, "windows-1251").encode("cp1251"), "utf-8")  # a multi-byte lie: no decode
    assert RU in d.text and d.conflict["declared"] == "utf-8" and d.conflict["used"] == "cp1251"


@pytest.mark.parametrize("body,enc", [
    (FR, "cp1252"), (FR, "latin-1"),
    ("Größe und Übermaß, café. Die Straße führt über die Brücke zum Bahnhof.", "latin-1"),
    ("ÉCOLE NATIONALE SUPÉRIEURE — Été à Orléans, NOËL À BESANÇON. ÀÉÎÕÜ ÇA VA?", "cp1252"),
    ("Copyright © 2024 — all rights reserved « » ½ £5 “quoted” it’s, 2×3, 10÷2, x² ±µ", "cp1252"),
    ("Þetta er íslenska. Ég heiti Jón og bý í Reykjavík. Það er gott.", "latin-1"),
    ("Türkçe metin: İstanbul güzel bir şehir. Öğrenciler okula gidiyor.", "cp1254"),
    ("Příliš žluťoučký kůň úpěl ďábelské ódy.", "cp1250"),
    (RU, "cp1251"), (RU, "koi8-r"), (RU, "iso-8859-5"),
    ("שלום עולם, זהו דף בעברית עם הרבה טקסט", "cp1255"),
    ("Καλημέρα κόσμε, ΑΘΗΝΑ ΕΛΛΑΔΑ", "iso-8859-7"),
])
def test_honest_single_byte_labels_are_kept(body, enc):
    d = decode_page(_page(body, enc).encode(enc))
    assert body in d.text and d.conflict is None, (d.encoding, d.conflict)


def test_iso_8859_1_label_reads_windows_1252_quotes_without_conflict():
    body = "Ça coûte 5 €. L’été — «super», n’est-ce pas?"
    d = decode_page(_page(body, "iso-8859-1").encode("cp1252"))
    assert body in d.text and d.encoding == "cp1252" and d.conflict is None


def test_html_extractor_gets_the_overruled_text():
    from curate.extractors.config import HTMLConfig

    text, meta = HTMLExtractor(HTMLConfig()).extract(_page(RU * 3, "iso-8859-1").encode("cp1251"), "mem://ru")
    assert "Привет, мир!" in text and meta["encoding"] == "cp1251"
    assert meta["charset_conflict"]["declared"].replace("-", "").replace("_", "") in ("iso88591", "latin1")
    assert meta["charset_conflict"]["used"] == "cp1251"


# ------------------------------------------------------------------ PDFs PyMuPDF cannot count


def _pdf(objs: list[bytes]) -> bytes:
    out, offs = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offs)
    return out + f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


def _pdf_reject(data: bytes) -> Reject:
    with pytest.raises(Reject) as e:
        PDFExtractor(PDFConfig()).extract(data, "mem://bad.pdf")
    return e.value


def test_pdf_with_impossible_page_count_is_invalid():
    data = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 99999999999 >>",
                 b"<< /Type /Page /Parent 2 0 R >>"])
    with pymupdf.open(stream=data, filetype="pdf") as doc, pytest.raises(RuntimeError):
        doc.page_count  # what PyMuPDF does with it
    r = _pdf_reject(data)
    assert r.reason == "extract:pdf:invalid" and r.detail.startswith("RuntimeError:")
    assert "number of pages" in r.detail


def _good_pdf() -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Readable body text, long enough to keep. " * 3)
    return doc.tobytes()


def test_pdf_page_count_raising_is_invalid_with_the_message(monkeypatch):
    def boom(self):
        raise RuntimeError("code=2: cannot find page tree")

    data = _good_pdf()
    monkeypatch.setattr(pymupdf.Document, "page_count", property(boom))
    r = _pdf_reject(data)
    assert (r.reason, r.detail) == ("extract:pdf:invalid", "RuntimeError: code=2: cannot find page tree")


def test_pdf_open_raising_is_invalid_with_the_message(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("code=7: no objects found")

    data = _good_pdf()
    monkeypatch.setattr(pymupdf, "open", boom)
    r = _pdf_reject(data)
    assert (r.reason, r.detail) == ("extract:pdf:invalid", "RuntimeError: code=7: no objects found")


def test_pdf_page_count_error_in_the_extract_step_is_not_an_error_reject():
    from curate.extractors.dispatch import Extractors, extract_record
    from curate.extractors.config import ExtractConfig

    data = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids 5 /Count 3 >>"])
    rec = {"id": "x", "source": "s", "uri": "mem://kids.pdf", "format": "pdf", "content": data, "meta": "{}"}
    with pytest.raises(Reject) as e:
        extract_record(rec, Extractors(ExtractConfig()))
    assert e.value.reason == "extract:pdf:invalid"
