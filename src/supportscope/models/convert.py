"""GGUF -> safetensors directory, for engines that load only Hugging Face directories (vLLM).

``gguf_to_safetensors(file, out)``: transformers dequantises the GGUF tensors on load
(``from_pretrained(dir, gguf_file=name)``); the config it builds carries a ``quantization_config``
describing the GGUF source, which would make other loaders expect quantised weights, so it is
dropped, the model is rebuilt from the cleaned config with the loaded weights, and written with
``save_pretrained(safe_serialization=True)`` together with the tokenizer (the same tokenizer, so
the converted model keeps the same tokenizer fingerprint and can be cross-scored with the GGUF one).
"""

from __future__ import annotations

from pathlib import Path

from supportscope.models.config import Policy
from supportscope.models.loading import ModelLoadError, check_model_path, load_model_and_tokenizer


def gguf_to_safetensors(gguf_file: str | Path, out_dir: str | Path) -> Path:
    """Convert a .gguf model file into a safetensors directory (float32); returns ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM

    _, gguf = check_model_path(gguf_file)
    if not gguf:
        raise ModelLoadError(f"'{gguf_file}' is not a .gguf file. Fix: pass the .gguf file to convert")
    model, tok, _ = load_model_and_tokenizer(Policy(model=str(gguf_file), dtype="float32"))
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")
    cfg.dtype = torch.float32
    with torch.device("cpu"):
        clean = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    clean.load_state_dict(model.state_dict())
    if getattr(model, "generation_config", None) is not None:
        clean.generation_config = model.generation_config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


__all__ = ["gguf_to_safetensors"]
