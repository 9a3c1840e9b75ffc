"""The Document and reject records, made in a process that has done nothing else."""

import subprocess
import sys


def test_a_reject_is_made_in_a_fresh_process():
    """Seen on Dask: a worker started again after a kill failed its first reject with
    NameError: DOCUMENT_FIELDS. The schemas are made when first asked for by the module's
    ``__getattr__``, which a name used inside the module itself never reaches."""
    code = ("from curate.schema import make_reject, new_document\n"
            "r = make_reject(new_document(source='s', uri='u', format='text', text='t'), 'filter', 'short')\n"
            "print(r['step'], r['reason'], sorted(r)[:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["filter", "short"]
