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


@pytest.mark.parametrize("stage", STAGES)
def test_a_config_file_has_the_same_defaults_as_none(tmp_path, stage):
    """Was: a file with only `stage:` got the models' own defaults (e.g. a 1,000,000-token budget
    and no domain shares) instead of configs/<stage>.yaml's."""
    p = tmp_path / "min.yaml"
    p.write_text(f"stage: {stage}\n")
    assert load_config(p) == default_config(stage)
    p.write_text(f"stage: {stage}\nmix:\n  max_epochs: 2.0\n  domain_shares: {{math: 0.5}}\n")
    cfg, ref = load_config(p), default_config(stage)
    assert cfg.mix.max_epochs == 2.0 and cfg.mix.domain_shares == {"math": 0.5}  # a share map is replaced whole
    assert cfg.mix.total_tokens == ref.mix.total_tokens and cfg.mix.context_length == ref.mix.context_length
    assert cfg.filter == ref.filter and cfg.dedup == ref.dedup


@pytest.mark.parametrize("written, tokens", [("1e6", 1_000_000), ("2.5e5", 250_000), ("1_000_000", 1_000_000),
                                             ("3000000.0", 3_000_000), ("'4e3'", 4000)])
def test_token_budgets_in_scientific_notation(tmp_path, written, tokens):
    p = tmp_path / "c.yaml"
    p.write_text(f"stage: stage2\nmix:\n  total_tokens: {written}\n")
    assert load_config(p).mix.total_tokens == tokens


@pytest.mark.parametrize("written", ["1.5", "1e-3", "lots", "-1e6"])
def test_a_budget_that_is_not_a_whole_positive_number_is_an_error(tmp_path, written):
    p = tmp_path / "c.yaml"
    p.write_text(f"stage: stage2\nmix:\n  total_tokens: {written}\n")
    with pytest.raises(ConfigError, match="mix.total_tokens"):
        load_config(p)


def test_a_share_for_a_domain_no_classifier_produces_is_an_error(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("stage: stage2\nmix:\n  domain_shares: {maths: 0.4, code: 0.3}\n")
    with pytest.raises(ConfigError, match=r"'maths'.*math, code, general"):
        load_config(p)
    # a fastText domain model may have other labels: then the share is taken on trust
    p.write_text("stage: stage2\nfilter:\n  domain:\n    model: dom.bin\nmix:\n  domain_shares: {physics: 0.2}\n")
    assert load_config(p).mix.domain_shares == {"physics": 0.2}
