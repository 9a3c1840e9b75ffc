# The two commands of the README: `make demo` and `make test`. Both build .venv themselves
# (torch pinned to 2.13.0 by constraints.txt, so no dependency pulls a CUDA build) and are
# idempotent: the environment is rebuilt only when setup.cfg or constraints.txt change.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo test clean browser bubblewrap tesseract

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

# demo also writes screenshots of report.html at 1280 and 400 px beside it (headless chromium, when installed)
demo: venv browser
	$(VENV)/bin/curate run stage2
	$(VENV)/bin/curate report out/stage2
	$(PY) -m curate.testing.browser out/stage2/report.html

# Headless Chromium renders report.html in one test; install it when apt can (CI runs as root).
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
	  || echo "chromium not installed: the report rendering test will be skipped"; }

# Code verification runs model-written programs under bubblewrap and refuses without it; install
# it when apt can (CI runs as root), else the sandbox tests are skipped and code is never verified.
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null) \
	  || echo "bubblewrap not installed: the code sandbox tests will be skipped and code cannot be verified"; }

# Scanned PDF pages are OCRed by Tesseract (CPU); install it and its English data when apt can (CI
# runs as root), else the OCR tests are skipped and scanned pages count as extract:pdf:ocr_unavailable.
tesseract:
	@command -v tesseract >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng >/dev/null) \
	  || echo "tesseract not installed: the OCR tests will be skipped and scanned PDF pages cannot be read"; }

test: venv browser bubblewrap tesseract
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) out build dist *.egg-info
