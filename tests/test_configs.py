"""Config dataclasses check their values at construction (issue 13): a bad value raises ConfigError
naming the field; the CLI spells the field as its flag, `supportscope run` as the TOML key at its line.
No model is loaded here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import BASE, EXAMPLE, TUNED, run_cli
from supportscope.analysis import AnalyzeConfig
from supportscope.errors import ConfigError, InputError, ModelConfigError
from supportscope.models.config import DecodingConfig, EngineConfig, Policy
from supportscope.organism.corpus import CorpusConfig
from supportscope.organism.demo_config import DemoConfig
from supportscope.organism.posttrain import NewInfoConfig, RLConfig, RSConfig
from supportscope.organism.pretrain import TrainConfig
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


# ---------------------------------------------------------------- issue 14: types and bounds where values enter

ALL_CONFIGS = [AnalyzeConfig, DecodingConfig, EngineConfig, Policy, SampleJobConfig, AdaptiveConfig, RayConfig, DemoConfig,
               TrainConfig, CorpusConfig, RLConfig, RSConfig, NewInfoConfig]
MB = "x" * 2**20

# (class, values, field named first, words the one-line message must hold)
BAD_TYPES = [
    (Policy, {"model": "/x/m", "trust_remote_code": "false"}, "trust_remote_code", 'true or false, got "false"'),
    (Policy, {"model": "/x/m", "chat": "false"}, "chat", 'true or false, got "false"'),
    (Policy, {"model": "/x/m", "chat": 1}, "chat", "true or false, got 1"),
    (Policy, {"model": 42}, "model", "a string of at most 4096 characters, got 42"),
    (Policy, {"model": MB}, "model", "(1,048,576 characters)"),
    (SampleJobConfig, {"n": True}, "n", "a whole number in [1, 1048576], got true"),
    (SampleJobConfig, {"n": "four"}, "n", 'got "four" (a string)'),
    (SampleJobConfig, {"n": 1e10}, "n", "got 10000000000.0 (a float)"),
    (SampleJobConfig, {"n": 4.0}, "n", "got 4.0 (a float)"),
    (SampleJobConfig, {"n": 10**10}, "n", "must be <= 1048576"),
    (SampleJobConfig, {"n": 2**20}, "n", "problems_per_shard 8 samples in one shard"),
    (SampleJobConfig, {"limit": 2**21}, "limit", "must be <= 1048576"),
    (SampleJobConfig, {"tasks": MB}, "tasks", "at most 4096 characters"),
    (AnalyzeConfig, {"budget": 10**7}, "budget", "must be <= 1048576"),
    (AnalyzeConfig, {"seed": -1}, "seed", "must be >= 0"),
    (AnalyzeConfig, {"seed": 10**23}, "seed", "must be <= 9223372036854775807"),
    (AnalyzeConfig, {"bootstrap": 10**13}, "bootstrap", "must be <= 1000000"),
    (AnalyzeConfig, {"bootstrap": 50}, "bootstrap", "must be >= 100 (too few for a 95% interval)"),
    (AnalyzeConfig, {"zeta": "0.05"}, "zeta", "a finite number"),
    (AnalyzeConfig, {"alpha": float("inf")}, "alpha", "a finite number"),
    (AnalyzeConfig, {"intersect": "yes"}, "intersect", "true or false"),
    (AnalyzeConfig, {"k": [8, "16"]}, "k", "each a whole number"),
    (AnalyzeConfig, {"k": [0]}, "k", "each a whole number in [1, "),
    (DecodingConfig, {"max_new_tokens": 2**30}, "max_new_tokens", "must be <= 1048576"),
    (DecodingConfig, {"stop": "Question:"}, "stop", "a list of at most 1024 values"),
    (DecodingConfig, {"temperature": None}, "temperature", "a finite number, got None"),
    (EngineConfig, {"max_batch_tokens": -1}, "max_batch_tokens", "must be >= 0"),
    (EngineConfig, {"decode": "fast"}, "decode", "not one of tree, shared, static, compiled, reference"),
    (AdaptiveConfig, {"max_n": 2**30}, "max_n", "must be <= 1048576"),  # checked even with adaptive off
    (RayConfig, {"ray": "false"}, "ray", "true or false"),
    (DemoConfig, {"bootstrap": 10**13}, "bootstrap", "must be <= 1000000"),
    (TrainConfig, {"steps": -1}, "steps", "must be >= 1"),
    (TrainConfig, {"hidden_size": 10, "heads": 3}, "hidden_size", "not heads 3 times an even head width"),
    (TrainConfig, {"hidden_size": 10, "heads": 2}, "hidden_size", "even head width"),
    (TrainConfig, {"heads": 4, "kv_heads": 3}, "kv_heads", "does not divide heads 4"),
    (TrainConfig, {"hidden_size": 4096, "intermediate_size": 16384}, "hidden_size", "parameters, more than"),
    (CorpusConfig, {"n_arith": 95}, "n_arith", "must be <= 90"),
    (CorpusConfig, {"n_fact": 600, "n_absent": 600}, "n_fact", "1000 three-digit fact codes"),
    (RLConfig, {"group_size": 1}, "group_size", "must be >= 2"),
    (RLConfig, {"kl_estimator": "kl"}, "kl_estimator", "not full or k3"),
    (RLConfig, {"families": ("nope",)}, "families", "not organism families"),
    (RSConfig, {"epochs": 0}, "epochs", "must be >= 1"),
    (NewInfoConfig, {"demos_per_step": 0, "corpus_per_step": 0}, "demos_per_step", "both 0"),
]


@pytest.mark.parametrize("cls", ALL_CONFIGS, ids=lambda c: c.__name__)
def test_every_config_checks_its_defaults_and_bounds_every_int(cls):
    """Defaults pass; every int field states its bounds (a huge value can neither overflow nor exhaust memory)."""
    import typing

    obj = cls()
    obj.validate()
    assert dataclasses.replace(obj) == obj
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if hints[f.name] in (int, int | None):
            assert "min" in f.metadata and "max" in f.metadata, f"{cls.__name__}.{f.name} has no bounds"


@pytest.mark.parametrize("cls, kw, name, words", BAD_TYPES,
                         ids=[f"{c.__name__}-{n}-{i}" for i, (c, _, n, _) in enumerate(BAD_TYPES)])
def test_a_wrong_type_or_out_of_bounds_value_is_one_short_line(cls, kw, name, words):
    with pytest.raises(ConfigError) as e:
        cls(**kw)
    msg = str(e.value)
    assert msg.startswith(f"{name} ") and ". Fix: " in msg and "\n" not in msg and len(msg) < 300, msg
    assert words in msg, msg


def test_numpy_scalars_are_stored_as_python_numbers():
    d = DecodingConfig(seed=np.int64(3), top_p=np.float32(0.5))
    assert type(d.seed) is int and type(d.top_p) is float
    assert d.to_dict()["seed"] == 3 and AnalyzeConfig(k=[np.int64(4)]).k == [4]


def test_cli_bounds_are_one_line_errors(tmp_path):
    for flag, value, words in (("--budget", "10000000", "--budget 10000000 must be <= 1048576"),
                               ("--seed", "-1", "--seed -1 must be >= 0"),
                               ("--seed", str(10**23), "must be <= 9223372036854775807"),
                               ("--bootstrap", "10000000000000", "--bootstrap 10000000000000 must be <= 1000000")):
        r = run_cli("analyze", EXAMPLE, "--base", BASE, "--tuned", TUNED, flag, value, "--out", tmp_path / "o")
        _one_line_error(r, words, "Fix: use e.g. " + flag)
    assert not (tmp_path / "o").exists()


def test_organism_pretrain_refuses_before_training(tmp_path):
    out = tmp_path / "org"
    _one_line_error(run_cli("organism", "pretrain", "--hidden-size", "10", "--heads", "3", "--out", out),
                    "--hidden-size 10 is not --heads 3 times", "Fix: use e.g. --hidden-size 48")
    _one_line_error(run_cli("organism", "pretrain", "--steps", "-1", "--out", out), "--steps -1 must be >= 1")
    assert not out.exists()


RUN_TOML = '''out = "o"
tasks = "rg:chain_sum"
n = 4
[decoding]
seed = 1
[base]
model = "a"
[tuned]
model = "b"
[analyze]
seed = 2
'''

# (what the file says instead, its line, words of the message)
BAD_TOML = [
    (('[base]\nmodel = "a"', '[base]\nmodel = "a"\ntrust_remote_code = "false"'), 8,
     '[base] trust_remote_code expects true or false, got "false"'),
    (('[tuned]\nmodel = "b"', '[tuned]\nmodel = "b"\nchat = "false"'), 10, '[tuned] chat expects true or false'),
    (("n = 4", "n = true"), 3, "n expects a whole number in [1, 1048576], got true"),
    (("n = 4", 'n = "four"'), 3, 'n expects a whole number in [1, 1048576], got "four"'),
    (("n = 4", "n = 1e10"), 3, "got 10000000000.0 (a float)"),
    (('[base]\nmodel = "a"', "[base]\nmodel = 42"), 7, "[base] model expects a string"),
    (('[base]\nmodel = "a"', f'[base]\nmodel = "{MB}"'), 7, "(1,048,576 characters)"),
    (("seed = 1", "seed = 1\ntop_k = 2.5"), 6, "[decoding] top_k expects a whole number"),
    (("n = 4", 'n = 4\nkl = "false"'), 4, 'kl expects true or false, got "false"'),
    (('out = "o"', "out = 3"), 1, "out expects a folder path"),
    (("seed = 2", "seed = 2\nbudget = 10000000"), 12, "[analyze] budget 10000000 must be <= 1048576"),
]


@pytest.mark.parametrize("change, line, words", BAD_TOML, ids=[w[:30] for _, _, w in BAD_TOML])
def test_run_config_types_are_checked_before_anything_is_written(tmp_path, change, line, words):
    cfg = tmp_path / "CONFIG.toml"
    cfg.write_text(RUN_TOML.replace(*change))
    with pytest.raises(InputError) as e:
        load_run_config(cfg)
    msg = str(e.value)
    assert e.value.line == line and msg.startswith(f"{cfg}:{line}: ") and words in msg, msg
    assert "\n" not in msg and len(msg) < 300 + len(str(cfg)) and "Fix: " in msg, msg
    assert not (tmp_path / "o").exists()


def test_cli_run_refuses_a_string_boolean_and_writes_nothing(tmp_path):
    cfg = tmp_path / "CONFIG.toml"
    cfg.write_text(RUN_TOML.replace('[base]\nmodel = "a"', '[base]\nmodel = "a"\ntrust_remote_code = "false"'))
    _one_line_error(run_cli("run", cfg), "CONFIG.toml:8: [base] trust_remote_code expects true or false")
    cfg.write_text(RUN_TOML.replace("n = 4", "n = 1e10"))
    _one_line_error(run_cli("run", cfg), "CONFIG.toml:3: n expects a whole number")
    assert not (tmp_path / "o").exists()


def test_bootstrap_memory_is_checked_before_work(tmp_path, monkeypatch):
    import supportscope.analysis.config as acfg
    from supportscope.analysis import compare, model_counts
    from supportscope.analysis.compare import choose_budget
    from supportscope.io import load_counts

    acfg.check_bootstrap_memory(10000, 500, 128, available=2**30)  # the MATH500 example: about 0.6 GiB
    with pytest.raises(ConfigError, match=r"^bootstrap 1000000 replicates over 500 problems with n = 2048 need "
                                          r"about \d+\.\d GiB of memory, more than the 1.0 GiB available. Fix: "):
        acfg.check_bootstrap_memory(10**6, 500, 2048, available=2**30)
    monkeypatch.setattr(acfg, "available_memory", lambda: 2**30)
    cfg = tmp_path / "CONFIG.toml"
    cfg.write_text(RUN_TOML.replace("n = 4", "n = 2048").replace("seed = 2", "seed = 2\nbootstrap = 1000000"))
    with pytest.raises(InputError, match=r":12: \[analyze\] bootstrap 1000000 replicates over 50 problems"):
        load_run_config(cfg)
    table = load_counts([EXAMPLE])
    b, t = (model_counts(table, m, [str(EXAMPLE)]) for m in (BASE, TUNED))
    with pytest.raises(ConfigError, match="^bootstrap 1000000 replicates over 500 problems with n = 128"):
        compare(b, t, AnalyzeConfig(bootstrap=10**6))
    # a budget no n <= 10^7 can certify is a note, not an OverflowError
    _, _, notes = choose_budget(AnalyzeConfig(budget=2**20, zeta=0.99), 128)
    assert any("needs more than 10^7 samples per problem" in n for n in notes)


def test_cli_names_the_flag_of_a_config_error_raised_by_the_work():
    from supportscope.cli.options import with_config_options

    @with_config_options(AnalyzeConfig)
    def command(config: AnalyzeConfig = None):
        raise ConfigError("`bootstrap` too many. Fix: lower `bootstrap`, or `other`")

    with pytest.raises(ConfigError) as e:
        command()
    assert str(e.value) == "--bootstrap too many. Fix: lower --bootstrap, or other"


def test_run_config_engine_table(tmp_path):
    """[engine] (EngineConfig: max_batch_tokens, decode) is read and checked like every other table."""
    cfg = tmp_path / "CONFIG.toml"
    good = TOML.replace("top_p = 1.5", "top_p = 0.9")
    cfg.write_text(good + "[engine]\nmax_batch_tokens = 4096\ndecode = \"static\"\n")
    assert load_run_config(cfg)["engine"] == EngineConfig(max_batch_tokens=4096, decode="static")
    cfg.write_text(good)
    assert load_run_config(cfg)["engine"] == EngineConfig()
    cfg.write_text(good + "[engine]\ndecode = \"fast\"\n")
    with pytest.raises(InputError) as e:
        load_run_config(cfg)
    assert e.value.line == 13 and "[engine] decode 'fast' is not one of" in str(e.value)


def test_a_boolean_field_on_by_default_can_be_switched_off():
    """Every bool field gets --name/--no-name (DemoConfig.distill is on by default: --no-distill)."""
    import typer
    from typer.testing import CliRunner

    from supportscope.cli.options import with_config_options
    from supportscope.organism.demo_config import DemoConfig

    app, seen = typer.Typer(), []

    @app.command()
    @with_config_options(DemoConfig)
    def command(config: DemoConfig = None):
        seen.append(config)

    @app.command()
    def other():  # a second command, so typer keeps the command name
        pass

    for args, want in ((["command"], True), (["command", "--no-distill"], False),
                       (["command", "--distill", "--quick"], True)):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        assert seen[-1].distill is want
    assert seen[-1].quick is True
