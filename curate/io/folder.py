"""Folder: the one way curate reaches a directory of outputs, local or remote alike.

Every step (extract, dedup, filter, synth) and the mix write through a ``Folder``: they
build their output in a *staging* folder beside the final one (``<name>.tmp-<random>``),
then ``commit`` it, which replaces the final folder by the staged one (a directory rename
on a local disk; on object stores, where a rename is a copy, the final prefix is cleared and
each file moved). Leftovers of killed runs are swept by ``sweep_staging`` (the run lock
guarantees nobody else is using them). Everything goes through Beam's FileSystems, so
``gs://``, ``s3://`` and ``hdfs://`` paths work like local ones; the only place that tells a
local path from a remote one is ``curate.io.files.is_remote``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from curate.io import files

STAGING = ".tmp-"


class Folder:
    """A directory by path: read, list, write atomically, stage and commit."""

    def __init__(self, path: str):
        self.path = path.rstrip("/") or "/"

    def __repr__(self) -> str:
        return f"Folder({self.path!r})"

    @property
    def remote(self) -> bool:
        return files.is_remote(self.path)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> "Folder":
        if self.remote:
            return Folder(self.path.rsplit("/", 1)[0])
        return Folder(os.path.dirname(os.path.abspath(self.path)))

    def join(self, *parts: str) -> str:
        return FileSystems.join(self.path, *parts) if parts else self.path

    def child(self, *parts: str) -> "Folder":
        return Folder(self.join(*parts))

    def exists(self, *parts: str) -> bool:
        p = self.join(*parts)
        return FileSystems.exists(p) or (not parts and FileSystems.exists(p + "/"))

    def makedirs(self) -> "Folder":
        files.makedirs(self.path)
        return self

    def open_read(self, *parts: str) -> BinaryIO:
        return FileSystems.open(self.join(*parts), compression_type=CompressionTypes.UNCOMPRESSED)

    def open_write(self, *parts: str) -> BinaryIO:
        """A new file (its parent folders made on local disks)."""
        path = self.join(*parts)
        if not self.remote:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)

    def read_bytes(self, *parts: str) -> bytes:
        return files.read_bytes(self.join(*parts))

    def write_atomic(self, name: str, data: bytes) -> None:
        files.write_atomic(self.join(name), data)

    def list(self) -> dict[str, int]:
        """Every file below, by posix name relative to this folder, with its size."""
        from curate.io.checksums import list_outputs

        return list_outputs(self.path)

    def delete(self) -> None:
        """Remove this folder and everything in it (nothing when it does not exist)."""
        if not self.remote:
            shutil.rmtree(self.path, ignore_errors=True)
        elif self.exists():
            FileSystems.delete([self.path + "/"])

    def staging(self) -> "Folder":
        """A fresh, empty folder beside this one to build it in, for ``commit``."""
        return Folder(f"{self.path}{STAGING}{uuid.uuid4().hex[:8]}").makedirs()

    def commit(self, staged: "Folder") -> None:
        """Make ``staged`` this folder: whatever was here before is replaced."""
        if not self.remote:
            old = None
            if os.path.exists(self.path):
                old = f"{self.path}{STAGING}old-{uuid.uuid4().hex[:8]}"
                os.rename(self.path, old)
            os.rename(staged.path, self.path)
            if old:
                shutil.rmtree(old, ignore_errors=True)
            return
        self.delete()
        names = sorted(staged.list())
        if names:
            FileSystems.rename([staged.join(n) for n in names], [self.join(n) for n in names])
        staged.delete()

    def sweep_staging(self) -> list[str]:
        """Remove staging folders of this folder left by killed runs; returns what was removed."""
        parent = self.parent
        prefix = self.name + STAGING
        gone = []
        if parent.remote:
            for r in FileSystems.match([parent.join(prefix + "*")]):
                for m in r.metadata_list:
                    gone.append(m.path)
            if gone:
                FileSystems.delete(gone)
            return gone
        if not os.path.isdir(parent.path):
            return gone
        for entry in sorted(os.listdir(parent.path)):
            if entry.startswith(prefix):
                full = os.path.join(parent.path, entry)
                shutil.rmtree(full, ignore_errors=True) if os.path.isdir(full) else os.remove(full)
                gone.append(full)
        return gone
