"""The organism's tokenizer (one token per character of ALPHABET, plus the end token) and its
Llama-style model (about 0.8M parameters with the default TrainConfig).

The tokenizer has a single special token, ``</s>`` (EOS, also used as padding; no BOS), so
``decode(ids, skip_special_tokens=True)`` removes exactly the end token and nothing else: a
generated completion equals an answer string iff the generated ids are the answer's characters
followed by EOS (see exact.py).
"""

from __future__ import annotations

from typing import Any

from .families import ALPHABET, EOS


def organism_tokenizer() -> Any:
    """A PreTrainedTokenizerFast: ``</s>`` = 0, then one id per ALPHABET character (47 ids)."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate([EOS, *ALPHABET])}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, eos_token=EOS, pad_token=EOS)


def encode(tokenizer: Any, text: str) -> list[int]:
    """Character ids of ``text``; raises ValueError for a character outside the alphabet."""
    bad = sorted(set(text) - set(ALPHABET))
    if bad:
        raise ValueError(f"characters {bad} are outside the organism alphabet {ALPHABET!r}")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text), (text, ids)
    return [int(i) for i in ids]


def encode_transcript(tokenizer: Any, text: str) -> tuple[list[int], list[int]]:
    """(ids, policy mask) of a transcript: ``</s>`` inside ``text`` is the end token; every other
    character is one token. Mask 0 marks environment tokens (each ``<...>`` reply, delimiters
    included), 1 the policy's (the end token included)."""
    ids: list[int] = []
    mask: list[int] = []
    eos = int(tokenizer.eos_token_id)
    for j, part in enumerate(text.split(EOS)):
        if j:
            ids.append(eos)
            mask.append(1)
        env = False
        for ch, i in zip(part, encode(tokenizer, part)):
            if ch == "<":
                env = True
            ids.append(i)
            mask.append(0 if env else 1)
            if ch == ">":
                env = False
    return ids, mask


def organism_model(tokenizer: Any, *, seed: int = 0, hidden_size: int = 128, layers: int = 4, heads: int = 4,
                   kv_heads: int = 2, intermediate_size: int = 384, max_positions: int = 512) -> Any:
    """A randomly initialised LlamaForCausalLM over the organism vocabulary (tied embeddings).

    ``max_positions`` only bounds prompt + max_new_tokens (RoPE: no parameters depend on it)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate_size,
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                      max_position_embeddings=max_positions, bos_token_id=None,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      tie_word_embeddings=True, initializer_range=0.02)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return model


def n_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["organism_tokenizer", "organism_model", "encode", "encode_transcript", "n_params"]
