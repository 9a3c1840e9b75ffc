"""Nougat OCR backend: PDF pages → Markdown with LaTeX, through transformers' Nougat.

Uses transformers' own implementation (``VisionEncoderDecoderModel`` = Donut-Swin encoder +
MBart decoder, ``NougatImageProcessorPil``, ``NougatTokenizerFast``) loaded from a local
checkpoint directory, e.g. a snapshot of ``facebook/nougat-base``. The ``nougat-ocr``
package is not used: it pins its own torch/torchvision/timm stack, and torchvision next to
this torch breaks transformers' imports. torch and transformers are imported only when a
checkpoint is configured, so text-only runs never pay for them.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Iterable

log = logging.getLogger(__name__)

_INLINE = re.compile(r"\\\((.+?)\\\)", re.DOTALL)
_DISPLAY = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)


def to_project_markdown(text: str) -> str:
    """Nougat writes math as \\( … \\) and \\[ … \\]; the project's Markdown uses $…$ and $$…$$."""
    text = _DISPLAY.sub(lambda m: "\n$$" + m.group(1).strip() + "$$\n", text)
    text = _INLINE.sub(lambda m: "$" + m.group(1).strip() + "$", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class NougatOCR:
    """A Nougat model loaded once (per worker) from ``checkpoint``; pages are rendered with
    PyMuPDF at the processor's input size and run in batches of ``batch_size``."""

    def __init__(
        self,
        checkpoint: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 4,
        max_new_tokens: int = 3584,
    ):
        import torch
        from transformers import NougatImageProcessorPil, NougatTokenizerFast, VisionEncoderDecoderModel

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        self.dtype = getattr(torch, dtype)
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.processor = NougatImageProcessorPil.from_pretrained(checkpoint)
        self.tokenizer = NougatTokenizerFast.from_pretrained(checkpoint)
        self.model = VisionEncoderDecoderModel.from_pretrained(checkpoint, dtype=self.dtype)
        self.model.to(self.device).eval()
        size = getattr(self.processor, "size", None) or {}
        self.input_hw = (int(size.get("height", 896)), int(size.get("width", 672)))
        self.calls: int = 0  # batches run, for the run's statistics

    # ------------------------------------------------------------------ rendering

    def render(self, page) -> Any:
        """The page as an RGB PIL image, about the size the processor resizes to (rendering
        larger only costs time; rendering smaller loses detail)."""
        import pymupdf
        from PIL import Image

        h, w = self.input_hw
        rect = page.rect
        zoom = min(h / max(rect.height, 1.0), w / max(rect.width, 1.0))
        zoom = max(0.25, min(zoom * 1.0, 4.0))
        pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csRGB, alpha=False)
        return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)

    # ------------------------------------------------------------------ inference

    def run_batch(self, page_numbers: list[int], images: list[Any]) -> list[str]:
        """One forward pass over a batch of rendered pages; the raw decoded text per page (the
        caller checks it for loops and emptiness before ``postprocess``)."""
        import torch

        self.calls += 1
        pixel_values = self.processor(images=images, return_tensors="pt").pixel_values
        pixel_values = pixel_values.to(self.device, dtype=self.dtype)
        tok = self.tokenizer
        bad = [[tok.unk_token_id]] if tok.unk_token_id is not None else None
        with torch.inference_mode():
            out = self.model.generate(
                pixel_values,
                min_length=1,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=1,
                bad_words_ids=bad,
            )
        return tok.batch_decode(out, skip_special_tokens=True)

    @staticmethod
    def postprocess(text: str) -> str:
        """Nougat's own clean-up where it needs no extra packages (repetition truncation), then
        the project's math delimiters."""
        try:
            from transformers.models.nougat.tokenization_nougat import markdown_compatible, truncate_repetitions

            text = markdown_compatible(truncate_repetitions(text.strip()))
        except Exception:  # noqa: BLE001 - the clean-up is best effort; raw output is still Markdown
            pass
        return to_project_markdown(text)

    def ocr_pages(self, doc, page_numbers: Iterable[int]) -> dict[int, str]:
        """OCR the given 0-based pages of an open PyMuPDF document, ``batch_size`` at a time;
        raw decoded text per page."""
        numbers = list(page_numbers)
        out: dict[int, str] = {}
        for i in range(0, len(numbers), self.batch_size):
            batch = numbers[i : i + self.batch_size]
            images = [self.render(doc.load_page(n)) for n in batch]
            for n, text in zip(batch, self.run_batch(batch, images)):
                out[n] = text
        return out

    def close(self) -> None:
        """Free the model (and cached GPU memory)."""
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass
