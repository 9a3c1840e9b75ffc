"""The Document record: one Arrow schema shared by every step (see DESIGN.md).

Documents travel through Beam as plain dicts with exactly these keys; pools on disk are
Parquet files of this schema. Rejects use the same fields plus ``step``, ``reason`` and
``detail`` so a dropped document can be inspected with the same tools as a kept one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

_SCHEMAS = ("DOCUMENT_FIELDS", "DOCUMENT_SCHEMA", "REJECT_SCHEMA")


def __getattr__(name: str) -> Any:
    """DOCUMENT_FIELDS, DOCUMENT_SCHEMA and REJECT_SCHEMA, made when first asked for: pyarrow
    loads only where a schema is used (not in the extraction child, which only makes records)."""
    if name not in _SCHEMAS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import pyarrow as pa

    fields: list[pa.Field] = [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("uri", pa.string()),
        pa.field("format", pa.string()),  # html | pdf | text | synthetic
        pa.field("text", pa.string()),  # Markdown: $…$, $$…$$, fenced code
        pa.field("extractor", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        pa.field("domain", pa.string()),
        pa.field("scores", pa.map_(pa.string(), pa.float64())),
        pa.field("dup_cluster", pa.string()),
        pa.field("meta", pa.string()),  # JSON object
    ]
    globals().update(
        DOCUMENT_FIELDS=fields,
        DOCUMENT_SCHEMA=pa.schema(fields),
        REJECT_SCHEMA=pa.schema(fields + [
            pa.field("step", pa.string(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("detail", pa.string()),
        ]),
    )
    return globals()[name]


FORMATS = ("html", "pdf", "text", "synthetic")


def doc_id(source: str, uri: str, offset: int | str = 0) -> str:
    """Stable id: the same source name, URI and record offset always give the same id."""
    h = hashlib.sha256(f"{source}\x00{uri}\x00{offset}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def new_document(
    *,
    source: str,
    uri: str,
    format: str,
    text: str = "",
    offset: int | str = 0,
    id: str | None = None,
    extractor: str = "",
    meta: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Document dict with every schema field present (unset ones are None/empty)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    doc = {
        "id": id or doc_id(source, uri, offset),
        "source": source,
        "uri": uri,
        "format": format,
        "text": text,
        "extractor": extractor,
        "lang": None,
        "lang_score": None,
        "domain": None,
        "scores": {},
        "dup_cluster": None,
        "meta": json.dumps(meta or {}, ensure_ascii=False, sort_keys=True),
    }
    unknown = set(fields) - set(doc)
    if unknown:
        raise ValueError(f"unknown Document fields: {sorted(unknown)}")
    doc.update(fields)
    return doc


DEFAULT_DOMAIN = "general"  # the domain of a document no classifier labelled math or code
UNKNOWN_LANG = "und"  # ISO 639 "undetermined": a document without a language label


def domain_of(doc: dict[str, Any]) -> str:
    """The document's domain label, ``DEFAULT_DOMAIN`` when it has none."""
    return doc.get("domain") or DEFAULT_DOMAIN


def lang_of(doc: dict[str, Any]) -> str:
    """The document's language label, ``UNKNOWN_LANG`` when it has none."""
    return doc.get("lang") or UNKNOWN_LANG


def get_meta(doc: dict[str, Any]) -> dict[str, Any]:
    """The parsed ``meta`` JSON of a document (empty dict when absent)."""
    raw = doc.get("meta")
    return json.loads(raw) if raw else {}


def with_meta(doc: dict[str, Any], **updates: Any) -> dict[str, Any]:
    """A copy of ``doc`` whose meta JSON has ``updates`` merged in."""
    meta = get_meta(doc)
    meta.update(updates)
    return {**doc, "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True)}


def make_reject(doc: dict[str, Any], step: str, reason: str, detail: str = "") -> dict[str, Any]:
    """A reject record: the document's fields plus where, why and any detail (scores, survivor id)."""
    # a name used inside the module never reaches the module's __getattr__
    rec = {f.name: doc.get(f.name) for f in __getattr__("DOCUMENT_FIELDS")}
    rec["id"] = rec["id"] or doc_id(str(doc.get("source")), str(doc.get("uri")), doc.get("offset", 0))
    rec["source"] = rec["source"] or ""
    rec["scores"] = rec["scores"] or {}
    rec.update(step=step, reason=reason, detail=detail)
    return rec


def to_table(records: list[dict[str, Any]], schema: pa.Schema | None = None) -> pa.Table:
    """Records → Arrow table with exactly ``schema``'s columns (default DOCUMENT_SCHEMA; extra keys dropped)."""
    import pyarrow as pa

    schema = schema if schema is not None else __getattr__("DOCUMENT_SCHEMA")
    cols = {}
    for f in schema:
        is_str, is_map = pa.types.is_string(f.type), pa.types.is_map(f.type)
        cols[f.name] = [_clean(r.get(f.name), is_str, is_map) for r in records]
    return pa.Table.from_pydict(cols, schema=schema)


def _clean(value: Any, is_str: bool, is_map: bool) -> Any:
    if value is None:
        return None
    if is_str and isinstance(value, str):
        # Lone surrogates (from hostile JSON) cannot be stored as UTF-8: replace them.
        return value.encode("utf-8", "replace").decode("utf-8")
    if is_map and isinstance(value, dict):
        return list(value.items())
    return value


def from_table(table: pa.Table) -> list[dict[str, Any]]:
    """Arrow table → records, with ``scores`` maps turned back into dicts."""
    rows = table.to_pylist()
    for r in rows:
        if isinstance(r.get("scores"), list):
            r["scores"] = dict(r["scores"])
    return rows
