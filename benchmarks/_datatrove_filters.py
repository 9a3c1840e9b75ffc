"""datatrove's side of the labelled filter check in benchmarks/filters.py (``--dev-corpus``).

Runs inside the datatrove venv (benchmarks/pipeline.py: ensure_datatrove_venv), never in curate's:

    python _datatrove_filters.py --input docs.jsonl --output verdicts.jsonl

Each input line is {"id", "text"}; each output line is {"id", "kept", "filter", "reason"}:
the class name of the first datatrove filter that dropped the document and datatrove's own
drop reason (null when kept, or when a filter drops without a reason).

The filters are datatrove 0.10.1's English defaults, in the order of FineWeb's pipeline
(examples/fineweb.py): GopherRepetitionFilter → GopherQualityFilter → C4QualityFilter →
FineWebQualityFilter, all with default constructor arguments (FineWeb itself built
C4QualityFilter with filter_no_terminal_punct=False). Each filter's ``filter(doc)`` is called
directly on a datatrove Document; a document stops at its first drop. C4QualityFilter
rewrites a kept document's text (drops the lines it rejects), and the next filter sees the
rewritten text, as in a datatrove pipeline. Words are split by datatrove's English word
tokenizer (spaCy's blank "en" model, offline).
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="JSONL of {id, text}")
    ap.add_argument("--output", required=True, help="JSONL of {id, kept, filter, reason}")
    args = ap.parse_args()

    from datatrove.data import Document
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    filters = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    with open(args.input) as fin, open(args.output, "w") as fout:
        for line in fin:
            rec = json.loads(line)
            doc = Document(text=rec["text"], id=rec["id"])
            verdict = {"id": rec["id"], "kept": True, "filter": None, "reason": None}
            for flt in filters:
                res = flt.filter(doc)  # True, False or (False, reason)
                kept, reason = res if isinstance(res, tuple) else (res, None)
                if not kept:
                    verdict.update(kept=False, filter=type(flt).__name__, reason=reason)
                    break
            fout.write(json.dumps(verdict) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
