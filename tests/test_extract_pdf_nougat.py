"""The Nougat route: a tiny, randomly initialised model of Nougat's architecture (Donut-Swin
encoder + MBart decoder) is saved to disk, loaded through the real loading path, and must be
called on exactly the pages the router sends to OCR."""

import logging
import os
import shutil

import pymupdf
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from curate.errors import Reject  # noqa: E402
from curate.extractors import nougat as nougat_mod  # noqa: E402
from curate.extractors.config import PDFConfig  # noqa: E402
from curate.extractors.pdf import PDFExtractor  # noqa: E402
from curate.testing.pdf_docs import make  # noqa: E402

OCR_CHAR = "x"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A Nougat-shaped VisionEncoderDecoder with a few thousand weights, its image processor
    and a character-level tokenizer, saved as a transformers checkpoint directory. Its output
    head is set so that it always writes OCR_CHAR, which makes its pages recognisable."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        DonutSwinConfig,
        MBartConfig,
        NougatImageProcessorPil,
        NougatTokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
    )

    torch.manual_seed(0)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + list("abcdefghijklmnopqrstuvwxyz0123456789=+-()$\\ "))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok = NougatTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    enc = DonutSwinConfig(
        image_size=[64, 48], patch_size=4, num_channels=3, embed_dim=8, depths=[1, 1], num_heads=[1, 1], window_size=4
    )
    dec = MBartConfig(
        vocab_size=len(tok), d_model=16, decoder_layers=1, encoder_layers=1, decoder_attention_heads=2,
        encoder_attention_heads=2, decoder_ffn_dim=32, encoder_ffn_dim=32, max_position_embeddings=64,
        is_decoder=True, add_cross_attention=True, scale_embedding=True,
    )
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = 0, 1, 2
    model = VisionEncoderDecoderModel(config=cfg)
    with torch.no_grad():
        ln = model.decoder.model.decoder.layer_norm
        ln.weight.zero_()
        ln.bias.fill_(1.0)
        model.decoder.lm_head.weight.zero_()
        model.decoder.lm_head.weight[vocab[OCR_CHAR]] = 1.0
    d = tmp_path_factory.mktemp("nougat-tiny")
    model.save_pretrained(d)
    NougatImageProcessorPil(size={"height": 64, "width": 48}).save_pretrained(d)
    tok.save_pretrained(d)
    return str(d)


def _mixed_pdf() -> tuple[bytes, list[int]]:
    """text, formulas, text, scanned, formulas pages; returns the PDF and its 0-based OCR pages."""
    parts = [
        make("one_column", seed=1, pages=1),
        make("formulas", seed=1, pages=1),
        make("one_column", seed=2, pages=1),
        make("scanned", seed=1),  # 2 pages: scanned, text
        make("formulas", seed=2, pages=1),
    ]
    doc = pymupdf.open()
    for p in parts:
        doc.insert_pdf(pymupdf.open(stream=p.data))
    routed = []
    for i, page in enumerate(doc):
        if not page.get_text().strip() or "CMMI10" in {f[3] for f in page.get_fonts()}:
            routed.append(i)
    return doc.tobytes(), routed


@pytest.fixture()
def spies(monkeypatch):
    calls = {"batches": [], "generate_batch": [], "from_pretrained": []}
    real_run = nougat_mod.NougatOCR.run_batch

    def run_batch(self, page_numbers, images):
        calls["batches"].append(list(page_numbers))
        return real_run(self, page_numbers, images)

    monkeypatch.setattr(nougat_mod.NougatOCR, "run_batch", run_batch)
    from transformers import VisionEncoderDecoderModel

    real_fp = VisionEncoderDecoderModel.from_pretrained.__func__

    def from_pretrained(cls, path, *a, **kw):
        calls["from_pretrained"].append(str(path))
        model = real_fp(cls, path, *a, **kw)
        real_generate = model.generate

        def generate(pixel_values, **gkw):
            calls["generate_batch"].append(tuple(pixel_values.shape))
            return real_generate(pixel_values, **gkw)

        model.generate = generate
        return model

    monkeypatch.setattr(VisionEncoderDecoderModel, "from_pretrained", classmethod(from_pretrained))
    return calls


def test_tiny_nougat_runs_on_exactly_the_routed_pages(tiny_checkpoint, spies):
    data, expected = _mixed_pdf()
    assert expected == [1, 3, 5]
    ex = PDFExtractor(
        PDFConfig(nougat_checkpoint=tiny_checkpoint, nougat_batch_size=2, nougat_max_new_tokens=6, nougat_device="cpu")
    )
    text, meta = ex.extract(data, "mem://mixed.pdf")

    assert spies["from_pretrained"] == [tiny_checkpoint]  # loaded from the directory on disk
    routed = [p["page"] - 1 for p in meta["pages"] if p["route"] == "nougat"]
    assert routed == expected
    assert sorted(n for b in spies["batches"] for n in b) == expected  # called on those pages only
    assert all(len(b) <= 2 for b in spies["batches"])  # batched
    assert [s[0] for s in spies["generate_batch"]] == [len(b) for b in spies["batches"]]
    assert all(s[1:] == (3, 64, 48) for s in spies["generate_batch"])
    assert meta["ocr_pages"] == 3 and meta["ocr_unavailable_pages"] == 0
    assert [p.get("ocr") for p in meta["pages"]] == [None, "done", None, "done", None, "done"]
    assert {p["reason"] for p in meta["pages"] if p["route"] == "nougat"} == {"scanned", "math_fonts"}
    # the model's pages carry its output; the text pages keep their text layer
    paras = text.split("\n\n")
    assert sum(1 for p in paras if p.strip() and set(p.strip()) == {OCR_CHAR}) == 3
    one = make("one_column", seed=1, pages=1).truth.split("\n\n")[0]
    assert one[:60] in text
    formula_body = make("formulas", seed=1, pages=1).truth.split("\n\n")[0]
    assert formula_body[:60] not in text  # replaced by OCR output

    # the model is loaded once per extractor (per worker), not per document
    ex.extract(data, "mem://again.pdf")
    assert spies["from_pretrained"] == [tiny_checkpoint]
    ex.close()
    assert ex._nougat is None


def test_bad_checkpoint_falls_back(tmp_path, caplog):
    data, expected = _mixed_pdf()
    ex = PDFExtractor(PDFConfig(nougat_checkpoint=str(tmp_path / "missing"), tesseract=False))
    with caplog.at_level(logging.ERROR):
        text, meta = ex.extract(data, "mem://mixed.pdf")
        ex.extract(data, "mem://mixed.pdf")
    assert meta["ocr_unavailable_pages"] == 1 and meta["ocr_pages"] == 0  # the scanned page
    assert [p["ocr"] for p in meta["pages"] if "ocr" in p] == ["not_configured", "unavailable", "not_configured"]
    assert sum("could not be loaded" in r.message for r in caplog.records) == 1  # tried once
    assert text


def test_failing_batch_keeps_text_layer(tiny_checkpoint, monkeypatch):
    def boom(self, page_numbers, images):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(nougat_mod.NougatOCR, "run_batch", boom)
    g = make("formulas", seed=3, pages=1)
    ex = PDFExtractor(PDFConfig(nougat_checkpoint=tiny_checkpoint, nougat_device="cpu", tesseract=False))
    text, meta = ex.extract(g.data, "mem://f.pdf")
    assert meta["ocr_failed_pages"] == 1 and meta["pages"][0]["ocr"] == "failed"
    assert meta["pages"][0]["rejected"][0]["reason"] == "nougat:error"
    assert g.truth.split("\n\n")[0][:60] in text
    scanned_only = pymupdf.open(stream=make("scanned", seed=1).data)
    scanned_only.delete_page(1)
    with pytest.raises(Reject) as e:
        ex.extract(scanned_only.tobytes(), "mem://s.pdf")
    assert e.value.reason == "extract:pdf:ocr_failed" and "nougat:error" in e.value.detail


def test_repetition_loop_rejected_page_goes_to_the_next_engine(tiny_checkpoint):
    """The tiny model writes one character until max_new_tokens: a decoding loop."""
    data, expected = _mixed_pdf()
    cfg = dict(nougat_checkpoint=tiny_checkpoint, nougat_max_new_tokens=62, nougat_device="cpu")
    text, meta = PDFExtractor(PDFConfig(**cfg, tesseract=False)).extract(data, "mem://mixed.pdf")
    routed = [meta["pages"][k] for k in expected]
    assert all(p["ocr"] == "failed" and p["route"] == "text" for p in routed)
    assert all([r["reason"] for r in p["rejected"]] == ["nougat:repetition"] for p in routed)
    assert "'x' repeated" in routed[0]["rejected"][0]["detail"]
    assert OCR_CHAR * 10 not in text and meta["ocr_failed_pages"] == 3
    assert make("formulas", seed=1, pages=1).truth.split("\n\n")[0][:60] in text  # the math page's text layer
    scanned_only = pymupdf.open(stream=make("scanned", seed=1).data)
    scanned_only.delete_page(1)
    with pytest.raises(Reject) as e:
        PDFExtractor(PDFConfig(**cfg, tesseract=False)).extract(scanned_only.tobytes(), "mem://s.pdf")
    assert e.value.reason == "extract:pdf:ocr_failed" and "nougat:repetition" in e.value.detail
    if shutil.which("tesseract"):  # the scanned page then goes to Tesseract
        text, meta = PDFExtractor(PDFConfig(**cfg, tesseract_dpi=100)).extract(scanned_only.tobytes(), "mem://s.pdf")
        p = meta["pages"][0]
        assert p["route"] == "tesseract" and [r["reason"] for r in p["rejected"]] == ["nougat:repetition"]
        assert p["tesseract_confidence"] >= 80 and len(text) > 1000


@pytest.fixture(scope="module")
def silent_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny model with its output head set to end the page at once: empty output."""
    from transformers import VisionEncoderDecoderModel

    d = tmp_path_factory.mktemp("nougat-silent")
    model = VisionEncoderDecoderModel.from_pretrained(tiny_checkpoint)
    with torch.no_grad():
        model.decoder.lm_head.weight.zero_()
        model.decoder.lm_head.weight[model.config.eos_token_id] = 1.0
    model.save_pretrained(d)
    for f in os.listdir(tiny_checkpoint):
        if not f.startswith(("model", "config")):
            shutil.copy(os.path.join(tiny_checkpoint, f), d)
    return str(d)


def test_empty_output_rejected(silent_checkpoint):
    g = make("formulas", seed=3, pages=1)
    text, meta = PDFExtractor(PDFConfig(nougat_checkpoint=silent_checkpoint, nougat_device="cpu")).extract(g.data, "m")
    p = meta["pages"][0]
    assert (p["route"], p["ocr"]) == ("text", "failed")
    assert p["rejected"] == [{"reason": "nougat:empty", "detail": "the model wrote nothing"}]
    assert g.truth.split("\n\n")[0][:60] in text


def test_math_delimiters_become_project_markdown():
    out = nougat_mod.to_project_markdown("Let \\(x^2\\) be.\n\\[ \\int_0^1 f \\]\nDone.")
    assert "$x^2$" in out and "$$\\int_0^1 f$$" in out and "\\(" not in out


# ------------------------------------------------------------------ the extraction child's memory cap


def _address_space_limit(pid: int) -> str:
    """The soft RLIMIT_AS of a process, as /proc shows it ("unlimited" or bytes)."""
    with open(f"/proc/{pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max address space"))
    return line.split()[3]


def _child_config(checkpoint: str, device: str, max_memory_mb: int):
    from curate.extractors.config import ExtractConfig

    pdf = PDFConfig(nougat_checkpoint=checkpoint, nougat_device=device, nougat_max_new_tokens=6, tesseract=False,
                    min_chars=1)
    return ExtractConfig(pdf=pdf, max_memory_mb=max_memory_mb)


def _formula_record():
    from curate.io.readers import raw_record

    return raw_record("t", "f.pdf", 0, "pdf", make("formulas", seed=3, pages=1).data)


def _text_record():
    from curate.io.readers import raw_record

    return raw_record("t", "a.txt", 0, "text", "A record that starts the child and needs no model.")


@pytest.mark.parametrize("device,cap", [("cuda", "unlimited"), ("cpu", str(3000 << 20))])
def test_child_address_space_cap_only_without_a_gpu_engine(tiny_checkpoint, device, cap):
    """CUDA cannot initialise under RLIMIT_AS: with Nougat on a GPU device the child gets the
    resident-memory watchdog instead; on the CPU it keeps the address-space cap."""
    from curate.extractors.isolation import IsolatedExtractors

    ex = IsolatedExtractors(_child_config(tiny_checkpoint, device, 3000))
    try:
        ex.extract(_text_record())
        assert _address_space_limit(ex.child_pids()[0]) == cap
    finally:
        ex.close()


def test_child_loads_the_model_with_device_auto(tiny_checkpoint):
    """The child path end to end with Nougat on ``auto`` (cuda when present, here the CPU):
    no address-space cap, the model loads in the child and OCRs the routed page."""
    import json

    from curate.extractors.isolation import IsolatedExtractors

    ex = IsolatedExtractors(_child_config(tiny_checkpoint, "auto", 3000))
    try:
        doc = ex.extract(_formula_record())
        assert _address_space_limit(ex.child_pids()[0]) == "unlimited"
        page = json.loads(doc["meta"])["pages"][0]
        assert (page["route"], page["ocr"]) == ("nougat", "done")
        assert doc["text"].strip() and set(doc["text"].strip()) == {OCR_CHAR}
    finally:
        ex.close()


def test_resident_memory_watchdog_rejects_as_out_of_memory(tiny_checkpoint):
    """A child with a GPU engine configured that grows over its cap (150 MB: its imports, torch
    and the model take more) is ended by the watchdog; the record is extract:out_of_memory."""
    from curate.extractors.isolation import IsolatedExtractors

    ex = IsolatedExtractors(_child_config(tiny_checkpoint, "auto", 150))
    try:
        with pytest.raises(Reject) as e:
            ex.extract(_formula_record())
        assert e.value.reason == "extract:out_of_memory" and "resident memory over 150 MB" in e.value.detail
    finally:
        ex.close()
