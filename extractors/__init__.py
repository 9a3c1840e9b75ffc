"""Extraction: HTML (trafilatura + lxml, math and code kept) and PDF (PyMuPDF; Nougat route)."""
