"""Tiny offline models and tokenizers: for tests, benchmarks and smoke runs (nothing is downloaded).

- `char_tokenizer()`: a character-level BPE tokenizer (printable ASCII + merges of common letter
  pairs, about 270 ids) with <pad>=0, <s>=1, </s>=2 (EOS), <|end|>=3 (chat end-of-turn) and a chat
  template, so stop strings can span tokens and the chat path has its own end token.
- `word_tokenizer(vocab_size)`: ids "w0".."w{n-1}" split on whitespace, any vocabulary size
  (e.g. 49152 to match SmolLM2's lm_head in a random-weight benchmark).
- `tiny_llama(tokenizer, seed, ...)`: a randomly initialised LlamaForCausalLM.
- `save_tiny_llama(path, ...)`: both written with save_pretrained (safetensors) for the loading path.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}<|end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<assistant>{% endif %}")


def char_tokenizer(extra_letters: str = "etaoinshrdlu ") -> Any:
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<|end|>"]
    chars = [c for c in string.printable if c not in "\t\r\x0b\x0c"]
    vocab = {t: i for i, t in enumerate(specials + chars)}
    merges = [(a, b) for a in extra_letters for b in extra_letters if a + b not in vocab]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tk = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                  additional_special_tokens=["<|end|>"])
    tok.chat_template = CHAT_TEMPLATE
    return tok


def word_tokenizer(vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>"]
    vocab = {t: i for i, t in enumerate(specials)}
    for i in range(len(specials), vocab_size):
        vocab[f"w{i}"] = i
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def tiny_llama(tokenizer: Any, seed: int = 0, *, hidden_size: int = 32, layers: int = 2, heads: int = 2,
               kv_heads: int = 1, max_positions: int = 96, init_range: float = 0.3) -> Any:
    """Random LlamaForCausalLM over `tokenizer`'s vocabulary. A large init range gives peaked
    next-token distributions, so truncation matters."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                      max_position_embeddings=max_positions, bos_token_id=tokenizer.bos_token_id,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      tie_word_embeddings=False, initializer_range=init_range)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg)
    return model.eval()


def save_tiny_llama(path: str | Path, seed: int = 0, tokenizer: Any | None = None, **kw: Any) -> Path:
    """Write a tiny random Llama + tokenizer to `path` (safetensors) and return the path."""
    path = Path(path)
    tok = tokenizer if tokenizer is not None else char_tokenizer()
    model = tiny_llama(tok, seed, **kw)
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path
