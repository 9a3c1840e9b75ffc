"""Generated data with known answers, for the tests and benchmarks (not used by the pipelines).

``pdf_docs``: PDFs with known text (one and two columns, running headers, formulas, scans).
``filter_pages``: labelled good/bad web pages for the quality filters.
``tiny_model``: a tiny random-init causal LM saved to disk, for the synth and annotate backends.
"""
