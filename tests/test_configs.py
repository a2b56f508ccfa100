"""Config dataclasses check their values at construction (issue 13): a bad value raises ConfigError
naming the field; the CLI spells the field as its flag, `supportscope run` as the TOML key at its line.
No model is loaded here."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import run_cli
from supportscope.analysis import AnalyzeConfig
from supportscope.errors import ConfigError, InputError, ModelConfigError
from supportscope.models.config import DecodingConfig, Policy
from supportscope.organism.demo_config import DemoConfig
from supportscope.pipeline.run_config import load_run_config
from supportscope.scale.adaptive import AdaptiveConfig
from supportscope.scale.config import SampleJobConfig
from supportscope.scale.ray_exec import RayConfig

# one bad value per class, and the field its error must name
BAD = [
    (AnalyzeConfig, {"basin_budget": 0}, "basin_budget"),
    (AnalyzeConfig, {"budget": 4}, "budget"),
    (AnalyzeConfig, {"success_threshold": 1.5}, "success_threshold"),
    (DecodingConfig, {"top_p": 1.5}, "top_p"),
    (Policy, {"model": "/x/m", "dtype": "float64"}, "dtype"),
    (SampleJobConfig, {"tasks": "rg:chain_sum", "problems_per_shard": 0}, "problems_per_shard"),
    (AdaptiveConfig, {"adaptive": True, "round": 64, "max_n": 32}, "round"),
    (RayConfig, {"ray": True, "ray_workers": 0}, "ray_workers"),
    (DemoConfig, {"n": 4}, "n"),
    (DemoConfig, {"top_p": 0.0}, "top_p"),
]


@pytest.mark.parametrize("cls", sorted({c for c, _, _ in BAD}, key=lambda c: c.__name__))
def test_defaults_never_raise(cls):
    obj = cls()
    obj.validate()  # still public: re-check after changing a field in place
    assert dataclasses.replace(obj) == obj


@pytest.mark.parametrize("cls, kw, name", BAD, ids=[f"{c.__name__}-{n}" for c, _, n in BAD])
def test_bad_value_raises_at_construction_naming_the_field(cls, kw, name):
    with pytest.raises(ConfigError) as e:
        cls(**kw)
    msg = str(e.value)
    assert msg.startswith(f"{name} ") and ". Fix: " in msg and "\n" not in msg, msg
    assert "`" not in msg and "--" not in msg, msg
    assert e.value.spelled(lambda n: f"--{n.replace('_', '-')}").startswith(f"--{name.replace('_', '-')} ")


def test_replace_and_mutation_are_checked():
    with pytest.raises(ModelConfigError, match="^top_p"):
        dataclasses.replace(DecodingConfig(), top_p=2.0)
    d = DecodingConfig()
    d.top_k = -1
    with pytest.raises(ModelConfigError, match="^top_k"):
        d.validate()


def test_required_fields_are_checked_where_needed():
    """An empty model or tasks is a placeholder, not a bad value: refused by require()."""
    assert Policy().model == "" and SampleJobConfig().tasks == ""
    with pytest.raises(ModelConfigError, match="^model is empty"):
        Policy().require()
    with pytest.raises(ConfigError, match="^tasks is required"):
        SampleJobConfig().require()
    Policy(model="/x/m").require()
    SampleJobConfig(tasks="rg:chain_sum").require()


def test_adaptive_checks_only_when_adaptive():
    """The CLI builds an AdaptiveConfig for every `sample`: its round checks apply only with adaptive on."""
    off = AdaptiveConfig(round=64, max_n=32)
    off.validate()
    with pytest.raises(ConfigError, match="^round 64"):
        dataclasses.replace(off, adaptive=True)


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr and len(err.splitlines()) == 1 and err.startswith("error: "), err
    for n in needles:
        assert n in err, (n, err)
    return err


def test_cli_spells_the_flag(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("problem_id,model,n,correct\n0,base,16,1\n0,tuned,16,2\n")
    err = _one_line_error(run_cli("analyze", p, "--base", "base", "--tuned", "tuned", "--basin-budget", "0",
                                  "--out", tmp_path / "o"), "--basin-budget 0", "Fix: use e.g. --basin-budget 8")
    assert "basin_budget" not in err
    assert not (tmp_path / "o").exists()


def test_cli_spells_a_renamed_flag(tmp_path):
    # `score` names Policy.model --scorer; a missing one is refused before the run directory is read
    _one_line_error(run_cli("score", tmp_path / "run"), "--scorer is empty", "Fix:")


TOML = '''out = "o"
tasks = "rg:chain_sum"
[decoding]
seed = 1
top_p = 1.5
[base]
model = "a"
[tuned]
model = "b"
[analyze]
seed = 2
'''


def test_run_config_names_file_line_and_key(tmp_path):
    cfg = tmp_path / "CONFIG.toml"
    cfg.write_text(TOML)
    with pytest.raises(InputError) as e:
        load_run_config(cfg)
    assert e.value.line == 5 and str(e.value).startswith(f"{cfg}:5: [decoding] top_p 1.5 must lie in (0, 1]")
    assert "Fix: e.g. [decoding] top_p 0.95" in str(e.value)
    # a key in another table is found in its own table, not at its first line in the file
    cfg.write_text(TOML.replace("top_p = 1.5", "top_p = 0.9") + "bootstrap = 5\n")
    with pytest.raises(InputError) as e:
        load_run_config(cfg)
    assert e.value.line == 12 and "[analyze] bootstrap 5" in str(e.value)
    cfg.write_text(TOML.replace('tasks = "rg:chain_sum"\n', "ray_workers = 2\n").replace("top_p = 1.5", "top_p = 0.9"))
    with pytest.raises(InputError, match=r":2: ray_workers is set but ray is not"):
        load_run_config(cfg)
    cfg.write_text(TOML.replace('tasks = "rg:chain_sum"\n', "").replace("top_p = 1.5", "top_p = 0.9"))
    with pytest.raises(InputError, match="tasks is required"):
        load_run_config(cfg)


def test_cli_run_bad_toml_value(tmp_path):
    cfg = tmp_path / "CONFIG.toml"
    cfg.write_text(TOML)  # the models "a" and "b" do not exist: the error must come before any loading
    _one_line_error(run_cli("run", cfg), "CONFIG.toml:5", "top_p", "Fix:")
    assert not (tmp_path / "o").exists()
