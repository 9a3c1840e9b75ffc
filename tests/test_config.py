import pytest

from curate.config import STAGES, default_config, load_config, parse_config
from curate.errors import ConfigError


@pytest.mark.parametrize("stage", STAGES)
def test_bundled_configs_validate(stage):
    cfg = default_config(stage)
    assert cfg.stage == stage


def test_stage_specs_follow_the_recipe():
    s2, s3 = default_config("stage2"), default_config("stage3")
    assert s3.mix.context_length == 32768 and s2.mix.context_length == 8192
    assert s3.synth.enabled and not s2.synth.enabled


def test_wrong_type_names_file_and_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("stage: stage2\ndedup:\n  threshold: high\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert str(p) in msg and "dedup.threshold" in msg and "high" in msg


def test_unknown_key_is_an_error(tmp_path):
    p = tmp_path / "typo.yaml"
    p.write_text("stage: stage2\nfilter:\n  min_wrds: 3\n")
    with pytest.raises(ConfigError, match="filter.min_wrds"):
        load_config(p)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "broken.yaml"
    p.write_text("stage: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["a"], "x.yaml")
