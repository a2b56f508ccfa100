"""GPU suite (issue 17): our sampler vs `model.generate`, memory roofline, bf16 vs float32, scoring, prefill sharing.

Run on one H100/H200 (no network, no model files; needs only torch + transformers + this package):
    HF_HUB_OFFLINE=1 python benchmarks/gpu_suite.py              # <= 8 minutes, prints one table
    HF_HUB_OFFLINE=1 python benchmarks/gpu_suite.py --smoke      # tiny shapes on the CPU, seconds (tests/)

Models: random-weight Llamas with SmolLM2-135M's shape (hidden 576, 30 layers, 9/3 heads, vocab 49152)
and a 1.5B shape (hidden 1536, 28 layers, 12/2 heads, intermediate 8960, vocab 151936), bf16 on CUDA.
A synthetic word-level tokenizer of the same vocabulary size. Measurements, each method once after an
untimed warm-up, wall time with a device sync:

1. Sampling tokens/s at batch 1 / 64 / 256 / 1024: distinct random 128-token prompts, `--new`
   new tokens (256; 32 at batch 1, where every method is launch-bound), EOS ignored, T = 1,
   top_p 0.95. Methods: ours decode='tree' (the default: distinct prefixes once per step; random
   weights make every sample distinct, so this measures its overhead), decode='shared' (DynamicCache
   loop), ours decode='static'
   (preallocated cache, sync-free step; decode='compiled' with --compile), and
   ``model.generate(do_sample=True, min_new_tokens=new)``. Ratio = ours / generate.
2. Fraction of the memory roofline: a decode step must read the weights once and each row's KV
   cache, so tokens/s <= batch * BW / (weight_bytes + batch * kv_bytes(mean context)), with
   kv_bytes(c) = c * layers * 2 * kv_heads * head_dim * bytes_per_value and mean context = prompt +
   new / 2; BW = the device's HBM bandwidth (H200 4.8e12, H100 SXM 3.35e12 bytes/s; --bandwidth).
   Reported: measured tokens/s / that bound (Williams, Waterman & Patterson 2009, "Roofline").
3. bf16 vs float32: the bf16 samples' token ids scored under the same weights in float32 and in
   bf16; max and mean |diff| of the raw log-probs, and the share of tokens with |diff| > 0.1.
4. Scoring tokens/s (bf16): 8 prompts x 64 samples of 128 + 256 tokens, decode='shared' (each prompt
   run once) vs 'reference' (every item in full).
5. Prefill sharing: 8 prompts of 1,024 tokens x n = 128 samples of 32 tokens, time of decode='shared'
   vs 'reference' (each row prefilled alone): the ratio is the saving of prefilling once per prompt.

Runs past ``--budget`` seconds skip the remaining generate() calls (marked "skipped").
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from supportscope.models import DecodingConfig, HFBackend, Policy, SampleRequest
from supportscope.models.config import EngineConfig
from supportscope.models.tiny import word_tokenizer

SMOLLM2 = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
               intermediate_size=1536, vocab_size=49152, max_position_embeddings=8192, tie_word_embeddings=True,
               rope_theta=100000.0, rms_norm_eps=1e-5)
B15 = dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
           intermediate_size=8960, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
           rope_theta=1e6, rms_norm_eps=1e-6)
SMOKE = dict(SMOLLM2, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=128, vocab_size=512)
BANDWIDTH = {"H200": 4.8e12, "H100": 3.35e12, "A100": 2.0e12}


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(dev, fn):
    sync(dev)
    t0 = time.perf_counter()
    out = fn()
    sync(dev)
    return out, time.perf_counter() - t0


def build(shape: dict, dev: torch.device, dtype: torch.dtype):
    tok = word_tokenizer(shape["vocab_size"])
    cfg = LlamaConfig(**shape, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    with torch.device(dev):
        model = LlamaForCausalLM(cfg)
    return model.to(dtype).eval(), tok


def backend(model, tok, decode: str, batch: int, dtype_name: str) -> HFBackend:
    return HFBackend.from_model(model, tok, Policy(model="random", dtype=dtype_name), sample_batch_size=batch,
                                score_batch_size=batch, stop_token_ids=(), engine=EngineConfig(decode=decode))


def prompts(n: int, length: int, vocab: int, seed: int) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    return [" ".join(f"w{i}" for i in row) for row in torch.randint(3, vocab, (n, length), generator=g).tolist()]


def kv_bytes(shape: dict, ctx: float, nbytes: int) -> float:
    head_dim = shape["hidden_size"] // shape["num_attention_heads"]
    return ctx * shape["num_hidden_layers"] * 2 * shape["num_key_value_heads"] * head_dim * nbytes


def sampling(args, rows, name, shape, model, tok, dev, dtype_name, t_start) -> dict:
    """Section 1 and 2: tokens/s and roofline fraction per batch size and method."""
    nbytes = torch.finfo(model.dtype).bits // 8
    w_bytes = sum(p.numel() for p in model.parameters()) * nbytes
    bw = args.bandwidth or next((v for k, v in BANDWIDTH.items() if k in torch.cuda.get_device_name(dev)), 0.0) \
        if dev.type == "cuda" else args.bandwidth
    paths = ["tree", "shared", "static"] + (["compiled"] if args.compile else [])
    out = {}
    for batch in args.batches:
        new = args.new if batch > 1 else min(args.new, 32)
        ps = prompts(batch, args.prompt, shape["vocab_size"], batch)
        reqs = [SampleRequest(f"p{i}", p, 0) for i, p in enumerate(ps)]
        d = DecodingConfig(top_p=0.95, max_new_tokens=new, seed=0)
        bound = batch * bw / (w_bytes + batch * kv_bytes(shape, args.prompt + new / 2, nbytes)) if bw else 0.0
        rates = {}
        for path in paths:
            be = backend(model, tok, path, batch, dtype_name)
            be.sample(reqs, DecodingConfig(top_p=0.95, max_new_tokens=min(new, 4 if path != "compiled" else new)))
            res, secs = timed(dev, lambda: be.sample(reqs, d))
            rates[path] = sum(s.n_tokens for s in res) / secs
        tok.padding_side = "left"
        enc = tok(ps, return_tensors="pt", padding=True).to(dev)

        def gen(n):
            with torch.inference_mode():
                o = model.generate(**enc, do_sample=True, max_new_tokens=n, min_new_tokens=n, temperature=1.0,
                                   top_k=0, top_p=0.95, pad_token_id=tok.pad_token_id)
            return int(o.shape[0] * (o.shape[1] - enc["input_ids"].shape[1]))

        if time.perf_counter() - t_start < args.budget:
            gen(2)
            n_gen, secs = timed(dev, lambda: gen(new))
            rates["generate"] = n_gen / secs
        for path, r in rates.items():
            ratio = r / rates["generate"] if "generate" in rates else float("nan")
            rows.append((f"{name} sample b={batch} new={new}", path, f"{r:,.0f} tok/s",
                         f"{ratio:.2f}x gen" if path != "generate" else "1.00x gen",
                         f"{r / bound:.1%} roof" if bound else "-"))
        if "generate" not in rates:
            rows.append((f"{name} sample b={batch} new={new}", "generate", "skipped (budget)", "-", "-"))
        out[batch] = rates
    return out


def agreement(args, rows, name, model, tok, dev) -> None:
    """Section 3: the bf16 samples' ids scored in float32 and bf16 (same weights)."""
    ps = prompts(8, args.prompt, model.config.vocab_size, 7)
    reqs = [SampleRequest(f"q{i}", p, j) for i, p in enumerate(ps) for j in range(8)]
    d = DecodingConfig(top_p=0.95, max_new_tokens=min(args.new, 128), seed=1)
    was = model.dtype
    lo = backend(model.to(torch.bfloat16), tok, "shared", 64, "bfloat16")
    samples = lo.sample(reqs, d)
    items = [(s.problem_id, s.sample_idx, s.prompt_ids, s.token_ids) for s in samples]
    s_lo = lo.score(items, d)
    hi_model = model.float()
    s_hi = backend(hi_model, tok, "shared", 64, "float32").score(items, d)
    model.to(was)
    diffs = torch.tensor([abs(a - b) for x, y in zip(s_lo, s_hi) for a, b in zip(x.token_logp_raw, y.token_logp_raw)])
    rows.append((f"{name} bf16 vs fp32 raw logp", f"{len(diffs)} tokens", f"max {diffs.max():.3f}",
                 f"mean {diffs.mean():.4f}", f"{(diffs > 0.1).float().mean():.1%} > 0.1"))


def scoring_and_sharing(args, rows, name, model, tok, dev, dtype_name) -> None:
    """Sections 4 and 5."""
    ps = prompts(8, args.prompt, model.config.vocab_size, 11)
    reqs = [SampleRequest(f"s{i}", p, j) for i, p in enumerate(ps) for j in range(args.score_n)]
    d = DecodingConfig(top_p=0.95, max_new_tokens=args.new, seed=2)
    samples = backend(model, tok, "shared", 512, dtype_name).sample(reqs, d)
    items = [(s.problem_id, s.sample_idx, s.prompt_ids, s.token_ids) for s in samples]
    n_tok = sum(len(it[3]) for it in items)
    rate = {}
    for path in ("shared", "reference"):
        be = backend(model, tok, path, 64, dtype_name)
        be.score(items[:2], d)
        _, secs = timed(dev, lambda: be.score(items, d))
        rate[path] = n_tok / secs
    rows.append((f"{name} score {len(items)} x ({args.prompt}+{args.new})", "shared / reference",
                 f"{rate['shared']:,.0f} / {rate['reference']:,.0f} tok/s", f"{rate['shared'] / rate['reference']:.2f}x",
                 "-"))
    long = prompts(8, args.share_prompt, model.config.vocab_size, 13)
    reqs = [SampleRequest(f"l{i}", p, j) for i, p in enumerate(long) for j in range(args.share_n)]
    d = DecodingConfig(top_p=0.95, max_new_tokens=32, seed=3)
    secs = {}
    for path in ("shared", "reference"):
        be = backend(model, tok, path, args.share_n, dtype_name)
        be.sample(reqs[:2], DecodingConfig(max_new_tokens=2))
        _, secs[path] = timed(dev, lambda: be.sample(reqs, d))
    rows.append((f"{name} prefill sharing 8 x n={args.share_n}, prompt {args.share_prompt}", "shared / reference",
                 f"{secs['shared']:.2f} / {secs['reference']:.2f} s", f"{secs['reference'] / secs['shared']:.2f}x", "-"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny shapes and sizes on the CPU (seconds)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compile", action="store_true", help="also decode='compiled' (torch.compile of the step)")
    ap.add_argument("--bandwidth", type=float, default=0.0, help="HBM bytes/s (default: from the device name)")
    ap.add_argument("--budget", type=float, default=420.0, help="seconds after which generate() runs are skipped")
    args = ap.parse_args(argv)
    dev = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                       else ("cpu" if args.device == "auto" else args.device))
    if dev.type == "cpu":
        torch.set_num_threads(1)  # tiny ops: more threads on a shared CPU only wait on each other
    if args.smoke:
        args.batches, args.new, args.prompt, args.score_n, args.share_n, args.share_prompt = [1, 4], 4, 8, 2, 4, 16
        shapes = {"smoke": SMOKE}
        args.bandwidth = args.bandwidth or 2e10
    else:
        args.batches, args.new, args.prompt, args.score_n, args.share_n, args.share_prompt = \
            [1, 64, 256, 1024], 256, 128, 64, 128, 1024
        shapes = {"smollm2-135m": SMOLLM2, "1.5b": B15}
    dtype, dtype_name = (torch.bfloat16, "bfloat16") if dev.type == "cuda" else (torch.float32, "float32")
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"gpu_suite on {where}, torch {torch.__version__}, {dtype_name}, prompt {args.prompt}, new {args.new}")
    rows: list[tuple] = []
    t_start = time.perf_counter()
    for name, shape in shapes.items():
        model, tok = build(shape, dev, dtype)
        sampling(args, rows, name, shape, model, tok, dev, dtype_name, t_start)
        scoring_and_sharing(args, rows, name, model, tok, dev, dtype_name)
        if name != "1.5b" or dev.type == "cuda":
            agreement(args, rows, name, model, tok, dev)
        del model
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print(f"total {time.perf_counter() - t_start:.0f} s"
          + (f", peak GPU memory {torch.cuda.max_memory_allocated(dev) / 2**30:.1f} GiB" if dev.type == "cuda" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
