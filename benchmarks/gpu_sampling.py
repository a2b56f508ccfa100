"""Benchmark: generated tokens/s of HFBackend.sample vs plain `model.generate(do_sample=True)`.

Run on a GPU machine (no network, no model files needed):
    HF_HUB_OFFLINE=1 python benchmarks/gpu_sampling.py            # bf16 on cuda, 64 prompts x 256 new tokens
    HF_HUB_OFFLINE=1 python benchmarks/gpu_sampling.py --smoke    # tiny sizes, runs on CPU in seconds

The model is a SmolLM2-135M-shaped Llama with random weights (hidden 576, 30 layers, 9 heads, 3 kv
heads, intermediate 1536, vocab 49152, tied embeddings); the tokenizer is a synthetic word-level
one with the same vocabulary size (`supportscope.models.tiny.word_tokenizer`). Both methods get the
same left-padded prompts (random words, 32 tokens each), the same batch size and exactly the same
number of new tokens: EOS is ignored (HFBackend with stop_token_ids=(), generate with
min_new_tokens = max_new_tokens). Sampling is raw (T = 1, top_k = 0, top_p = 1) unless --top-p is
given. HFBackend additionally records, for every token, its log-prob under the decoding and the
raw distribution and uses one per-sample generator per row. Each method runs once untimed
(warm-up) and then --repeats timed runs; the best is reported.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from supportscope.models import DecodingConfig, HFBackend, Policy, SampleRequest
from supportscope.models.tiny import word_tokenizer

SMOLLM2 = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
               intermediate_size=1536, vocab_size=49152, max_position_embeddings=8192, tie_word_embeddings=True,
               rope_theta=100000.0, rms_norm_eps=1e-5)
SMOKE = dict(SMOLLM2, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=128, vocab_size=2048)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> int:
    ap = argparse.ArgumentParser(description="HFBackend.sample vs model.generate, tokens/s")
    ap.add_argument("--smoke", action="store_true", help="tiny model and sizes (CPU check)")
    ap.add_argument("--device", default="auto", help="cuda | cpu | auto (default)")
    ap.add_argument("--dtype", default=None, help="default bfloat16 on cuda, float32 on cpu")
    ap.add_argument("--batch", type=int, default=None, help="prompts per batch (default 64; smoke 4)")
    ap.add_argument("--new-tokens", type=int, default=None, help="new tokens per prompt (default 256; smoke 8)")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per method (default 3; smoke 1)")
    args = ap.parse_args()

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    dtype_name = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    dtype = getattr(torch, dtype_name)
    batch = args.batch or (4 if args.smoke else 64)
    new = args.new_tokens or (8 if args.smoke else 256)
    repeats = args.repeats or (1 if args.smoke else 3)
    shape = SMOKE if args.smoke else SMOLLM2

    tok = word_tokenizer(shape["vocab_size"])
    cfg = LlamaConfig(**shape, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(cfg)
    model = model.to(dtype).eval()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"dtype {dtype_name}, random Llama {n_params / 1e6:.1f}M params "
          f"({shape['num_hidden_layers']} layers, hidden {shape['hidden_size']}, vocab {shape['vocab_size']}); "
          f"batch {batch}, prompt {args.prompt_len} tokens, {new} new tokens, top_p {args.top_p}")

    g = torch.Generator().manual_seed(1)
    words = torch.randint(3, shape["vocab_size"], (batch, args.prompt_len), generator=g).tolist()
    prompts = [" ".join(f"w{i}" for i in row) for row in words]
    requests = [SampleRequest(f"p{i}", p, 0) for i, p in enumerate(prompts)]
    backend = HFBackend.from_model(model, tok, Policy(model="random-smollm2-shape", dtype=dtype_name,
                                                      device=str(device)),
                                   sample_batch_size=batch, stop_token_ids=())
    assert backend.encode_prompt(prompts[0]) == words[0]

    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True).to(device)

    def run_backend(n: int) -> int:
        out = backend.sample(requests, DecodingConfig(max_new_tokens=n, top_p=args.top_p, seed=0))
        return sum(s.n_tokens for s in out)

    def run_generate(n: int) -> int:
        with torch.inference_mode():
            out = model.generate(**enc, do_sample=True, max_new_tokens=n, min_new_tokens=n, temperature=1.0,
                                 top_k=0, top_p=args.top_p, pad_token_id=tok.pad_token_id)
        return int(out.shape[0] * (out.shape[1] - enc["input_ids"].shape[1]))

    results = {}
    for name, fn in (("HFBackend.sample", run_backend), ("model.generate", run_generate)):
        fn(min(new, 8))  # warm-up (kernels, allocator)
        best, tokens = float("inf"), 0
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            tokens = fn(new)
            sync(device)
            best = min(best, time.perf_counter() - t0)
        assert tokens == batch * new, f"{name} generated {tokens} tokens, expected {batch * new}"
        results[name] = (tokens, best)
    print(f"{'method':<20}{'tokens':>10}{'seconds':>10}{'tokens/s':>12}")
    for name, (tokens, secs) in results.items():
        print(f"{name:<20}{tokens:>10}{secs:>10.3f}{tokens / secs:>12.1f}")
    (tb, sb), (tg, sg) = results["HFBackend.sample"], results["model.generate"]
    print(f"ratio HFBackend / generate (tokens/s): {(tb / sb) / (tg / sg):.2f}")
    if device.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2 ** 30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
