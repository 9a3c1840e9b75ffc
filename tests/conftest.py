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
