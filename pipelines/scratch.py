"""Scratch folders that a pipeline's transforms write and read while it runs, removed by the
driver once the run is over.

No transform of a graph may remove what another transform of it reads: runners run a task at
least once (Dask computes a result again when a worker or a transfer loses it; Dataflow and
Spark retry bundles), so a reader can run again after any in-graph "every reader is done"
signal. Seen on Dask: a node-spool reader run again found its file gone.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
import weakref

from apache_beam.io.filesystems import FileSystems

from curate.io import files

_FINALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # pipeline → [weakref.finalize]


def folder(pipeline, prefix: str) -> str:
    """A fresh folder for ``pipeline``'s transforms: under ``--temp_location`` when set (a
    cluster's workers reach it), else in the local temp dir. ``remove_all`` deletes it once the
    run is over (curate's ``runner.pipeline`` calls it); for a pipeline run without curate's
    runner it goes when the pipeline object does, or when the interpreter exits, so such a
    pipeline must outlive its run (keep it while an asynchronous runner's job runs)."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions

    temp = pipeline.options.view_as(GoogleCloudOptions).temp_location if pipeline.options else None
    if temp:
        path = FileSystems.join(temp, f"{prefix}{uuid.uuid4().hex}")
        files.makedirs(path)
    else:
        path = tempfile.mkdtemp(prefix=prefix)
    _FINALIZERS.setdefault(pipeline, []).append(weakref.finalize(pipeline, remove, path))
    return path


def remove_all(pipeline) -> None:
    """Remove every scratch folder made for ``pipeline`` (call it when the run is over, failed too)."""
    for finalizer in _FINALIZERS.pop(pipeline, []):
        finalizer()


def remove(path: str) -> None:
    """Remove a scratch folder and its files, if there. A task of a failed run may still be
    writing into it (a cluster's workers go on with the tasks they have), so a folder that
    cannot be removed yet is tried again and then left, with a warning: it holds no output, and
    an error here would fail a finished run or hide the error that failed it."""
    error: Exception | None = None
    for attempt in range(5):
        try:
            left = [m.path for m in FileSystems.match([FileSystems.join(path, "*")])[0].metadata_list]
            if left:  # an object store has no folder to delete with them
                FileSystems.delete(left)
            if FileSystems.exists(path):
                FileSystems.delete([path])
            return
        except Exception as e:  # noqa: BLE001 (any filesystem's error: see the docstring)
            error = e
            time.sleep(0.2 * (attempt + 1))
    logging.getLogger(__name__).warning("scratch folder %s left behind: %s", path, error)
