"""Disk cache of backend responses, keyed by the request, so a rerun pays for nothing twice.

The key is a SHA-256 of the canonical JSON of everything that determines a response (backend
kind, model, endpoint, prompt, n, sampling parameters including the seed). Each entry is one
JSON file written atomically (temporary name, then rename) under ``<dir>/<key[:2]>/<key>.json``,
so a run killed mid-way leaves only whole entries, and concurrent workers never see partial
ones. Paths go through Beam FileSystems (local, gs://, s3://).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from curate.io import files


def request_key(request: dict[str, Any]) -> str:
    blob = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class DiskCache:
    """get/put of JSON values by request dict; counts hits and misses."""

    def __init__(self, directory: str):
        self.directory = directory
        self.hits = 0
        self.misses = 0
        files.makedirs(directory)

    def path(self, key: str) -> str:
        return files.join(self.directory, key[:2], f"{key}.json")

    def get(self, request: dict[str, Any]) -> Any | None:
        p = self.path(request_key(request))
        try:
            if files.exists(p):
                entry = json.loads(files.read_bytes(p))
                if entry.get("request") == json.loads(json.dumps(request)):
                    self.hits += 1
                    return entry["response"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is a miss; it is overwritten on the next put
        self.misses += 1
        return None

    def put(self, request: dict[str, Any], response: Any) -> None:
        key = request_key(request)
        files.makedirs(files.join(self.directory, key[:2]))
        data = json.dumps({"request": request, "response": response}, ensure_ascii=False, sort_keys=True)
        files.write_atomic(self.path(key), data.encode("utf-8"))
