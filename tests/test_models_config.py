"""supportscope.models config + record dataclasses: defaults, help, validation, and no torch import."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import pytest

from supportscope.models import (Backend, DecodingConfig, ModelConfigError, Policy, Sample, SampleRequest,
                                 Score)


@pytest.mark.parametrize("cls", [DecodingConfig, Policy])
def test_every_field_has_default_and_help(cls):
    for f in dataclasses.fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def test_decoding_defaults_and_roundtrip():
    d = DecodingConfig()
    d.validate()
    assert d.to_dict() == {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0, "max_new_tokens": 256,
                           "stop": [], "seed": 0}
    assert d.is_raw and not d.greedy
    d2 = DecodingConfig(temperature=0.7, top_p=0.95, stop=["\n\n"], seed=3)
    assert DecodingConfig.from_dict(d2.to_dict()) == d2
    assert not d2.is_raw
    assert DecodingConfig(temperature=0).greedy


@pytest.mark.parametrize("kw, word", [
    ({"temperature": -0.1}, "temperature"), ({"temperature": math.nan}, "temperature"),
    ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"), ({"top_k": -1}, "top_k"),
    ({"min_p": 1.0}, "min_p"), ({"max_new_tokens": 0}, "max_new_tokens"), ({"stop": [""]}, "stop"),
    ({"seed": -1}, "seed"),
])
def test_decoding_validate_names_the_field(kw, word):
    with pytest.raises(ValueError, match=rf"^{word} ") as e:
        DecodingConfig(**kw)  # checked at construction
    assert isinstance(e.value, ModelConfigError) and "Fix:" in str(e.value) and "--" not in str(e.value)
    assert f"`{word}`" in e.value.spelled(lambda n: f"`{n}`")


def test_policy_name_defaults(tmp_path):
    assert Policy(model=str(tmp_path / "my-model")).name == "my-model"
    assert Policy(model="/x/SmolLM2-135M.Q4_1.gguf").name == "SmolLM2-135M.Q4_1"
    assert Policy(model="/x/m", name="base").name == "base"
    p = Policy(model="/x/m")
    assert (p.dtype, p.device, p.chat, p.trust_remote_code) == ("float32", "cpu", False, False)
    with pytest.raises(ValueError, match="^dtype 'float64'"):
        Policy(model="/x/m", dtype="float64")
    with pytest.raises(ValueError, match="^device 'gpu'"):
        Policy(model="/x/m", device="gpu")
    Policy(model="/x/m", device="cuda:1").require()
    Policy()  # no model yet: a valid placeholder, refused only where a model is needed
    with pytest.raises(ModelConfigError, match="^model is empty"):
        Policy().require()


def test_sample_and_score_sums():
    s = Sample("p", 0, 7, [1, 2], [3, 4, 5], "abc", "length", [-1.0, -0.5, -0.25], [-1.5, -1.0, -0.5])
    assert (s.n_tokens, s.logp_decoding, s.logp_raw) == (3, -1.75, -3.0)
    sc = Score("p", 0, [-1.0, -math.inf], [-1.0, -9.0], 1, [0.5, 0.25])
    assert sc.logp_decoding == -math.inf and sc.logp_raw == -10.0 and sc.kl == 0.75 and sc.n_tokens == 2
    assert Score("p", 0, [-1.0], [-1.0], 0).kl is None
    assert SampleRequest("p", "x", 3).sample_idx == 3
    assert not isinstance(object(), Backend)


def test_config_and_backend_import_no_torch():
    code = ("import sys; import supportscope.models as m; m.DecodingConfig(); m.Policy(model='x'); "
            "import supportscope.models.config, supportscope.models.backend; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
