"""Loading refuses what it cannot load safely, with one line naming the path and the fix."""

from __future__ import annotations

import json
import shutil

import pytest

from supportscope.models import HFBackend, ModelLoadError, Policy
from supportscope.models.loading import check_model_path, load_model_and_tokenizer
from supportscope.models.tiny import save_tiny_llama


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("load") / "tiny", seed=0)


def _err(path) -> str:
    with pytest.raises(ModelLoadError) as e:
        HFBackend(Policy(model=str(path)))
    msg = str(e.value)
    assert "\n" not in msg and "Fix:" in msg and isinstance(e.value, ValueError)
    return msg


def test_missing_path(tmp_path):
    msg = _err(tmp_path / "nope")
    assert str(tmp_path / "nope") in msg and "does not exist" in msg


def test_directory_without_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert "no config.json" in _err(tmp_path)


def test_directory_with_gguf_but_no_config_points_to_the_file(tmp_path):
    (tmp_path / "m.Q4.gguf").write_bytes(b"GGUF....")
    assert "m.Q4.gguf" in _err(tmp_path)


def test_pickle_bin_only_is_refused(tiny_dir, tmp_path):
    d = tmp_path / "pickled"
    d.mkdir()
    shutil.copy(tiny_dir / "config.json", d / "config.json")
    (d / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    msg = _err(d)
    assert "pytorch_model.bin" in msg and "pickle" in msg and "safe_serialization=True" in msg


def test_no_weights(tiny_dir, tmp_path):
    shutil.copy(tiny_dir / "config.json", tmp_path / "config.json")
    assert "no *.safetensors" in _err(tmp_path)


def test_not_a_gguf_file(tmp_path):
    f = tmp_path / "weights.txt"
    f.write_text("hello")
    assert "not a .gguf" in _err(f)
    g = tmp_path / "fake.gguf"
    g.write_bytes(b"PK\x03\x04 zip, not gguf")
    assert "not a GGUF file" in _err(g)


def test_corrupt_safetensors(tiny_dir, tmp_path):
    d = tmp_path / "corrupt"
    shutil.copytree(tiny_dir, d)
    (d / "model.safetensors").write_bytes(b"\x00" * 64)
    msg = _err(d)
    assert "could not load the model" in msg and str(d) in msg


def test_missing_tokenizer(tiny_dir, tmp_path):
    d = tmp_path / "notok"
    d.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_dir / name, d / name)
    assert "tokenizer" in _err(d)


def test_check_model_path_and_loader(tiny_dir):
    assert check_model_path(tiny_dir) == (tiny_dir, None)
    model, tok, device = load_model_and_tokenizer(Policy(model=str(tiny_dir), dtype="bfloat16"))
    assert str(device) == "cpu" and not model.training and next(model.parameters()).dtype.is_floating_point
    assert str(next(model.parameters()).dtype) == "torch.bfloat16"
    assert json.loads((tiny_dir / "config.json").read_text())["model_type"] == "llama"
