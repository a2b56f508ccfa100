"""Load a policy's model and tokenizer from local files only, and compare tokenizers.

Accepted: a directory with config.json + *.safetensors (+ tokenizer files), or a .gguf file.
Pickle checkpoints (*.bin, *.pt) are refused: loading them can run arbitrary code.
Nothing is downloaded (local_files_only=True). Every failure raises ModelLoadError with one line
that names the path and the fix.
"""

from __future__ import annotations

from supportscope.errors import ModelLoadError, TokenizerMismatchError

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from supportscope.models.config import Policy

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_SENTINEL = "SUPPORTSCOPE_SENTINEL_REPLY"






def check_model_path(path: str | os.PathLike) -> tuple[Path, str | None]:
    """Validate a model path without loading it. Returns (directory, gguf file name or None)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(
            f"model path '{p}' does not exist. Fix: pass a local model directory (config.json + "
            f"*.safetensors + tokenizer files) or a .gguf file; nothing is downloaded")
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise ModelLoadError(
                f"model path '{p}' is a file but not a .gguf file. Fix: pass the model directory "
                f"(config.json + *.safetensors) or a .gguf file")
        if not os.access(p, os.R_OK):
            raise ModelLoadError(f"model file '{p}' is not readable. Fix: check its permissions (chmod a+r)")
        try:
            with open(p, "rb") as f:
                magic = f.read(4)
        except OSError as e:
            raise ModelLoadError(f"model file '{p}' cannot be read ({e.strerror}). Fix: check the file") from e
        if magic != b"GGUF":
            raise ModelLoadError(
                f"model file '{p}' is not a GGUF file (bad header). Fix: re-download or re-convert it")
        return p.parent, p.name
    if not p.is_dir():
        raise ModelLoadError(f"model path '{p}' is neither a directory nor a file. Fix: pass a model directory")
    if not (p / "config.json").is_file():
        ggufs = sorted(p.glob("*.gguf"))
        hint = f"pass the file '{ggufs[0]}' instead" if ggufs else \
            "pass the directory written by save_pretrained (it holds config.json)"
        raise ModelLoadError(f"model directory '{p}' has no config.json. Fix: {hint}")
    weights = sorted(p.glob("*.safetensors"))
    if not weights:
        pickles = sorted(q.name for q in p.iterdir() if q.suffix.lower() in _PICKLE_SUFFIXES)
        if pickles:
            raise ModelLoadError(
                f"model directory '{p}' has only pickle weights ({', '.join(pickles[:3])}), which supportscope "
                f"refuses to load (they can run arbitrary code). Fix: convert once in a trusted environment with "
                f"AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True)")
        raise ModelLoadError(f"model directory '{p}' has no *.safetensors weights. Fix: pass a directory written "
                             f"by save_pretrained(safe_serialization=True), or a .gguf file")
    for w in weights + [p / "config.json"]:
        if not os.access(w, os.R_OK):
            raise ModelLoadError(f"model file '{w}' is not readable. Fix: check its permissions (chmod a+r)")
    return p, None


def resolve_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"--device {device} was asked but no CUDA device is available. Fix: --device cpu or auto")
    return torch.device(device)


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]


def load_tokenizer(policy: Policy) -> Any:
    directory, gguf = check_model_path(policy.model)
    from transformers import AutoTokenizer

    kw: dict[str, Any] = {"local_files_only": True, "trust_remote_code": policy.trust_remote_code}
    if gguf:
        kw["gguf_file"] = gguf
    try:
        return AutoTokenizer.from_pretrained(str(directory), **kw)
    except Exception as e:  # noqa: BLE001 - rewrapped with the path and the fix
        raise ModelLoadError(
            f"could not load the tokenizer of '{policy.model}' ({_one_line(e)}). Fix: save the tokenizer next "
            f"to the weights (tokenizer.save_pretrained(dir)), or pass trust_remote_code if it needs custom code"
        ) from e


def load_model_and_tokenizer(policy: Policy) -> tuple[Any, Any, Any]:
    """(model in eval mode on its device, tokenizer, torch.device) for a policy, from local files only."""
    policy.require()
    directory, gguf = check_model_path(policy.model)
    device = resolve_device(policy.device)
    tokenizer = load_tokenizer(policy)
    from transformers import AutoModelForCausalLM

    kw: dict[str, Any] = {"local_files_only": True, "trust_remote_code": policy.trust_remote_code,
                          "dtype": torch_dtype(policy.dtype)}
    if gguf:
        kw["gguf_file"] = gguf
    else:
        kw["use_safetensors"] = True
    try:
        model = AutoModelForCausalLM.from_pretrained(str(directory), **kw)
    except Exception as e:  # noqa: BLE001 - rewrapped with the path and the fix
        fix = ("pass --trust-remote-code if this architecture ships its own code and you trust it"
               if "trust_remote_code" in str(e) else "check that the files are complete and not corrupted")
        raise ModelLoadError(f"could not load the model '{policy.model}' ({_one_line(e)}). Fix: {fix}") from e
    model.to(device)
    model.eval()
    return model, tokenizer, device


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Vocabulary size + sha256 of the sorted (token, id) items + the special token ids.

    Two tokenizers with equal fingerprints map every id to the same token, so ids generated by one
    model can be scored by the other.
    """
    vocab = tokenizer.get_vocab()
    h = hashlib.sha256()
    for tok, idx in sorted(vocab.items(), key=lambda kv: (kv[1], kv[0])):
        h.update(f"{idx}\t{tok}\n".encode("utf-8", "surrogatepass"))
    specials = {
        "all": sorted(set(int(i) for i in tokenizer.all_special_ids)),
        "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id, "pad": tokenizer.pad_token_id,
    }
    h.update(json.dumps(specials, sort_keys=True).encode())
    return f"vocab={len(vocab)};sha256={h.hexdigest()[:20]};special={','.join(map(str, specials['all']))}"


def check_same_tokenizer(a: Any, b: Any) -> None:
    """Refuse cross-scoring between two backends (or tokenizers) whose tokenizers differ."""
    fa = a.tokenizer_fingerprint() if hasattr(a, "tokenizer_fingerprint") else tokenizer_fingerprint(a)
    fb = b.tokenizer_fingerprint() if hasattr(b, "tokenizer_fingerprint") else tokenizer_fingerprint(b)
    if fa != fb:
        na, nb = getattr(a, "name", "first"), getattr(b, "name", "second")
        raise TokenizerMismatchError(
            f"tokenizers differ: '{na}' [{fa}] vs '{nb}' [{fb}]; token ids of one model mean other tokens to the "
            f"other, so cross-scoring is meaningless. Fix: compare models that share a tokenizer (same family)")


def _ids(encoded: Any) -> list[int]:
    if hasattr(encoded, "keys") and "input_ids" in encoded:
        encoded = encoded["input_ids"]
    if hasattr(encoded, "tolist"):
        encoded = encoded.tolist()
    if encoded and isinstance(encoded[0], list):
        encoded = encoded[0]
    return [int(i) for i in encoded]


def chat_prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """One user turn through the tokenizer's chat template, with the generation prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError("the tokenizer has no chat template but chat=True was asked. Fix: use chat=False "
                             "(raw text prompts) or a tokenizer that ships a chat template")
    out = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                        tokenize=True)
    return _ids(out)


def prompt_ids(tokenizer: Any, prompt: str, chat: bool) -> list[int]:
    """The ids a model is conditioned on: the chat template (one user turn) when ``chat``, else the raw
    text as the tokenizer encodes it (special tokens it adds included); BOS alone for an empty prompt."""
    if chat:
        return chat_prompt_ids(tokenizer, prompt)
    ids = [int(i) for i in tokenizer(prompt)["input_ids"]]
    if not ids and tokenizer.bos_token_id is not None:
        ids = [int(tokenizer.bos_token_id)]
    return ids


def stop_token_ids(tokenizer: Any, generation_eos: Any, chat: bool) -> list[int]:
    """Token ids that end a completion: the tokenizer's EOS, the generation config's EOS id(s)
    (``generation_eos``: an int, a list or None) and, with ``chat``, the template's end-of-turn token."""
    ids: list[int] = []
    for cand in (tokenizer.eos_token_id, generation_eos):
        if cand is not None:
            ids.extend(int(c) for c in (cand if isinstance(cand, (list, tuple)) else [cand]))
    if chat:
        ids.extend(chat_end_token_ids(tokenizer))
    return sorted(set(ids))


def chat_end_token_ids(tokenizer: Any) -> list[int]:
    """The special token the chat template puts right after an assistant reply (e.g. <|im_end|>), if any."""
    if not getattr(tokenizer, "chat_template", None):
        return []
    try:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": _SENTINEL}], tokenize=False)
    except Exception:  # noqa: BLE001 - templates that refuse this shape simply give no extra end token
        return []
    if not isinstance(text, str) or _SENTINEL not in text:
        return []
    tail = text.split(_SENTINEL, 1)[1]
    special = {int(i) for i in tokenizer.all_special_ids}
    special |= {int(i) for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items()
                if getattr(t, "special", False)}
    for i in tokenizer.encode(tail, add_special_tokens=False):
        if i in special:
            return [int(i)]
        if tokenizer.decode([i]).strip():
            break
    return []
