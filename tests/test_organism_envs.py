"""The organism's environments (issue 16): turn rules, corpus transcripts, rollouts with a policy
mask, and the exact p of policy + environment against brute force (today's exact p without an
environment) and Monte Carlo (within the 99.9% binomial interval, >= 4 problems per environment)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import beta  # noqa: E402

from supportscope.models.backend import SampleRequest  # noqa: E402
from supportscope.models.config import DecodingConfig  # noqa: E402
from supportscope.organism.corpus import CorpusConfig, corpus_lines, env_lines  # noqa: E402
from supportscope.organism.envs import build_env, final_answer, turn_end  # noqa: E402
from supportscope.organism.envs.rollout import EnvBackend  # noqa: E402
from supportscope.organism.exact import exact_p_both, organism_backend  # noqa: E402
from supportscope.organism.exact_env import exact_p_env  # noqa: E402
from supportscope.organism.model import encode_transcript, organism_tokenizer  # noqa: E402
from supportscope.organism.task import OrganismTask, to_problem  # noqa: E402

DEC = DecodingConfig(top_p=0.95, max_new_tokens=8, seed=3)


@pytest.fixture(scope="module")
def backend():
    return organism_backend()


@pytest.fixture(scope="module")
def problems():
    return OrganismTask().organism_problems()


def test_turn_rules_and_replies():
    calc, search, fb = build_env("calc"), build_env("search"), build_env("feedback")
    assert calc.reply("7-3=", ["[c]"], "call") == "<4>" and calc.reply("7*3=", ["[c]"], "call") == "<21>"
    assert calc.reply("fact 001?", ["[c]"], "call") == "<>" and calc.reply("7-3=", ["4"], "eos") is None
    absent = [p for p in CorpusConfig().problems() if p.family == "absent"][0]
    assert search.reply(absent.prompt, ["[s]"], "call") == f"<{absent.answers[0]}>"
    assert search.reply("7-3=", ["[s]"], "call") == "<>"
    assert fb.reply("7-3=", ["10"], "eos") == "<n>" and fb.reply("7-3=", ["4"], "eos") is None
    assert fb.reply("7-3=", ["10", "10"], "eos") is None and fb.reply(absent.prompt, ["abc"], "eos") is None
    assert turn_end("[c]", 3, False, 0, ("[c]",), 8) == "call" and turn_end("[c]", 3, False, 1, ("[c]",), 8) is None
    assert turn_end("12", 2, True, 0, (), 8) == "eos" and turn_end("1234", 8, False, 0, (), 8) == "length"
    assert final_answer("[c]<4>4</s>") == "4" and final_answer("10<n>4") == "4" and final_answer("12") == "12"
    with pytest.raises(ValueError, match="did you mean 'search'"):
        build_env("serch")


def test_corpus_transcripts_keep_the_q_and_mask_the_replies():
    cfg = CorpusConfig()
    lines, extra = corpus_lines(cfg), env_lines(cfg)
    direct = [s for s in lines if "[" not in s and "<" not in s]
    assert len(lines) == len(direct) + len(extra)
    sub = [p for p in cfg.problems() if p.family == "sub"][0]
    mine = [s for s in direct if s.startswith(sub.prompt)]
    assert sum(s == sub.prompt + sub.answers[0] for s in mine) == round(cfg.q_sub * cfg.repeats)
    assert not any(s.startswith(p.prompt) and "[c]" in s for s in extra for p in cfg.problems() if p.family == "mul")
    tok = organism_tokenizer()
    ids, mask = encode_transcript(tok, "5-8=13</s><n>-3")
    assert ids[6] == tok.eos_token_id and mask == [1] * 7 + [0, 0, 0] + [1, 1]
    absent_prompts = {p.prompt for p in cfg.problems() if p.family == "absent"}
    assert not any(s.split("?")[0] + "?" in absent_prompts for s in lines if s.startswith("fact"))


def test_exact_tree_without_environment_is_todays_exact_p(backend, problems):
    ref, _ = exact_p_both(backend, problems, DEC)
    tree = exact_p_env(backend.model, backend.tokenizer, problems, None, DEC)
    assert not tree.pruned.any() and np.max(np.abs(tree.p - ref)) < 1e-5


def _interval(k: int, n: int, level: float = 0.999) -> tuple[float, float]:
    a = (1 - level) / 2
    return (beta.ppf(a, k, n - k + 1) if k else 0.0, beta.ppf(1 - a, k + 1, n - k) if k < n else 1.0)


FAMILY = {"calc": "sub", "search": "absent", "feedback": "sub"}  # where each environment changes p
UNCHANGED = {"calc": "add", "search": "add", "feedback": "fact"}  # where it cannot (no call / no feedback)


@pytest.mark.parametrize("env", ["calc", "search", "feedback"])
def test_monte_carlo_matches_the_exact_p_with_the_environment(backend, problems, env):
    """Exact p of policy + environment lies in the 99.9% Clopper-Pearson interval of the sampled
    frequency (n = 800 episodes) on each problem checked: the 4 problems (of 8 of the family the
    environment helps) with the largest gain over the bare policy, and 2 problems of another family
    where it changes nothing."""
    e = build_env(env, OrganismTask().corpus)
    fam = [p for p in problems if p.family == FAMILY[env]][:8]
    other = [p for p in problems if p.family == UNCHANGED[env]][:2]
    chosen = fam + other
    r = exact_p_env(backend.model, backend.tokenizer, chosen, e, DEC)
    bare = exact_p_env(backend.model, backend.tokenizer, chosen, None, DEC).p
    gain = r.p - bare
    pick = list(np.argsort(-gain[:8])[:4]) + [8, 9]
    assert gain[pick[:4]].min() > 0.01, f"{env}: the environment changes nothing on the base"
    assert np.allclose(r.p[8:], bare[8:]), f"{env} changed {UNCHANGED[env]}"
    eb = EnvBackend(backend, e)
    n = 800
    task = OrganismTask()
    for i in pick:
        p = chosen[i]
        samples = eb.sample([SampleRequest(p.id, p.prompt, j) for j in range(n)], DEC)
        k = sum(task.verify(to_problem(p), s.completion) for s in samples)
        lo, hi = _interval(int(k), n)
        assert lo <= r.p[i] <= hi, (env, p.id, k / n, r.p[i])
        for s in samples[:50]:
            assert len(s.policy_mask) == len(s.token_ids) == len(s.token_logp_decoding)
            assert all(lp == 0.0 for lp, m in zip(s.token_logp_decoding, s.policy_mask) if not m)
            if 0 in s.policy_mask:
                assert "<" in s.completion and ">" in s.completion


def test_an_episode_without_a_call_is_the_plain_sample(backend, problems):
    """Turn 0 uses the sample's own seed: whenever the policy does not call, the episode is token for
    token what the plain backend samples."""
    eb = EnvBackend(backend, build_env("calc"))
    reqs = [SampleRequest(p.id, p.prompt, j) for p in problems[128:192:8] for j in range(16)]  # sub: calls
    plain, episodes = backend.sample(reqs, DEC), eb.sample(reqs, DEC)
    called = 0
    for a, b in zip(plain, episodes, strict=True):
        if 0 in b.policy_mask:
            called += 1
            assert b.token_ids[:3] == backend.tokenizer("[c]", add_special_tokens=False)["input_ids"]
        else:
            assert a.token_ids == b.token_ids and a.token_logp_decoding == b.token_logp_decoding
    assert called < len(reqs)
