import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    """The embedded sample corpus, written once per test session."""
    from curate.sample.generate import write_sample

    d = tmp_path_factory.mktemp("sample")
    write_sample(str(d), seed=1234)
    return d


@pytest.fixture(scope="session")
def stage2_run(tmp_path_factory):
    """`curate run stage2` on the embedded sample, once per test session: (output dir, manifest)."""
    from curate.config import default_config
    from curate.pipelines.stages import run_stage

    out = tmp_path_factory.mktemp("run") / "stage2"
    manifest = run_stage(default_config("stage2"), str(out), [], log=lambda m: None)
    return out, manifest
