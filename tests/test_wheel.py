"""A wheel built from the repo imports every subpackage and runs `curate --help` outside the repo.

Beam workers (Dataflow) install the wheel, not an editable checkout, so the folder-to-package
mapping in setup.cfg must hold in a real wheel. The clean venv gets the wheel without its
dependencies and sees the test venv's third-party packages through a .pth file (a .pth in an
added directory is not processed, so the editable `curate` of the test venv stays invisible).
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ["extractors", "dedup", "filters", "synth", "mixtures", "pipelines", "pretrain", "configs", "io", "sample", "commands"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    src = tmp_path_factory.mktemp("src")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    for rel in listed:  # a clean copy of the checkout: no stale build/ from earlier builds
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        check=True, capture_output=True, cwd=dist,
    )
    (whl,) = dist.glob("curate-*.whl")
    return whl


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for sub in SUBPACKAGES:
        assert f"curate/{sub}/__init__.py" in names, sub
    for stage in ("stage1", "stage2", "stage3"):
        assert f"curate/configs/{stage}.yaml" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_wheel_installs_and_imports_everything(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = (
        "import importlib, curate, sys\n"
        "assert 'site-packages' in curate.__file__ and '" + str(env_dir) + "' in curate.__file__, curate.__file__\n"
        f"for s in {SUBPACKAGES!r}: importlib.import_module('curate.' + s)\n"
        "from curate.config import default_config; default_config('stage3')\n"
        "print('imported', len(sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    r = subprocess.run([py, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    exe = env_dir / "bin" / "curate"
    r = subprocess.run([exe, "--help"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "run" in r.stdout and "extract" in r.stdout, r.stderr[-2000:]
