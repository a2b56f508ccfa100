"""Answer-level statistics (issue 18): maj@k against brute force, entropies, the guessing baseline
and the error rate / power of the "guessable" rule (stats/answers.py, analysis/answer_stats.py)."""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from supportscope.analysis.answer_stats import answer_stats
from supportscope.stats.answers import (
    answer_entropy,
    bh_adjust,
    chance_pass_at_k,
    guess_test,
    maj_at_k,
)


def _brute_maj(answers, correct, k):
    """Mean over all k-subsets of the plurality's value (category value = mean correct), ties uniform."""
    value = {a: np.mean([c for b, c in zip(answers, correct) if b == a]) for a in set(answers)}
    tot = 0.0
    subsets = list(itertools.combinations(range(len(answers)), k))
    for s in subsets:
        cnt = Counter(answers[i] for i in s)
        top = max(cnt.values())
        tot += np.mean([value[a] for a, c in cnt.items() if c == top])
    return tot / len(subsets)


def _categories(answers, correct):
    cats = sorted(set(answers))
    counts = [sum(a == c for a in answers) for c in cats]
    values = [np.mean([ok for a, ok in zip(answers, correct) if a == c]) for c in cats]
    return counts, values


samples_strategy = st.integers(1, 9).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 4), min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n)))


@settings(max_examples=150, deadline=None)
@given(samples_strategy)
def test_maj_at_k_equals_enumeration_of_all_k_subsets(sample):
    answers, flags = sample
    correct = [f and a == 0 for a, f in zip(answers, flags)] if answers[0] % 2 else list(flags)  # consistent or not
    counts, values = _categories(answers, correct)
    ks = list(range(1, len(answers) + 2))
    got = maj_at_k([counts], [values], ks)[0]
    want = [_brute_maj(answers, correct, k) for k in ks[:-1]]
    np.testing.assert_allclose(got[:-1], want, rtol=1e-12, atol=1e-14)
    assert np.isnan(got[-1])  # k > n
    assert got[0] == pytest.approx(np.mean(correct))  # maj@1 = c/n = pass@1


def _maj_by_count_vectors(counts, values, k):
    """Exact maj@k by enumeration of the multivariate-hypergeometric count vectors (scipy pmf)."""
    dist = stats.multivariate_hypergeom(m=counts, n=k)
    total = 0.0
    for x in itertools.product(*[range(min(m, k) + 1) for m in counts]):
        if sum(x) != k:
            continue
        top = max(x)
        total += dist.pmf(x) * np.mean([v for xi, v in zip(x, values) if xi == top])
    return total


def test_maj_at_k_exact_at_n64_k16():
    counts, values = [22, 18, 13, 7, 4], [0.0, 1.0, 0.0, 0.0, 1.0]
    got = maj_at_k([counts], [values], [2, 5, 16])[0]
    want = [_maj_by_count_vectors(counts, values, k) for k in (2, 5, 16)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # two answers: closed form through the hypergeometric law, P(X > k/2) + P(X = k/2)/2
    a, b, k = 40, 24, 16
    x = stats.hypergeom(a + b, a, k)
    assert maj_at_k([[a, b]], [[1.0, 0.0]], [k])[0, 0] == pytest.approx(x.sf(8) + 0.5 * x.pmf(8), rel=1e-12)


def test_maj_at_k_vectorised_rows_and_speed():
    """500 problems x 64 samples, every k up to 64 (the former DP took ~3-10 s here; benchmarks/majk.py
    times both): rows agree with one-row calls, maj@1 = pass@1, maj@n = the value of the full plurality."""
    rng = np.random.default_rng(3)
    counts = rng.multinomial(64, [0.4, 0.2, 0.1] + [0.3 / 20] * 20, size=500)
    values = (rng.random(counts.shape) < 0.3).astype(float)
    ks = [1, 2, 4, 8, 16, 32, 64]
    t = time.perf_counter()
    all_rows = maj_at_k(counts, values, ks)
    elapsed = time.perf_counter() - t
    for i in (0, 17, 499):
        np.testing.assert_allclose(all_rows[i], maj_at_k(counts[i], values[i], ks)[0], rtol=1e-12)
    np.testing.assert_allclose(all_rows[:, 0], (counts * values).sum(1) / 64, rtol=1e-12)
    top = counts == counts.max(axis=1, keepdims=True)
    np.testing.assert_allclose(all_rows[:, -1], (values * top).sum(1) / top.sum(1), rtol=1e-12)
    assert elapsed < 3.0, elapsed


def _bounded_vectors(caps, k):
    """Every count vector x with 0 <= x_j <= caps[j] and sum x = k."""
    if not caps:
        if k == 0:
            yield ()
        return
    for x in range(min(caps[0], k) + 1):
        for rest in _bounded_vectors(caps[1:], k - x):
            yield (x, *rest)


def _maj_exact_law(counts, values, k):
    """maj@k from the multivariate hypergeometric law of the count vector, prod C(m_j, x_j) / C(n, k)."""
    total = 0.0
    for x in _bounded_vectors(list(counts), k):
        top = max(x)
        weight = math.prod(math.comb(m, xi) for m, xi in zip(counts, x))
        total += weight * np.mean([v for xi, v in zip(x, values) if xi == top])
    return total / math.comb(sum(counts), k)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=2, max_size=5), st.data())
def test_maj_at_k_rows_of_mixed_sizes_equal_count_vector_enumeration(counts, data):
    """Rows of different n, zero categories and ties in one call: each equals the exact law of the
    count vector, for every k <= n."""
    if sum(counts) == 0:
        counts[0] = 1
    values = [data.draw(st.sampled_from([0.0, 1.0, 0.5])) for _ in counts]
    other = ([3, 0, 1] + [0] * 3)[:len(counts)]
    ks = list(range(1, sum(counts) + 1))
    got = maj_at_k([counts, other], [values, values], ks)
    want = [_maj_exact_law(counts, values, k) for k in ks]
    np.testing.assert_allclose(got[0], want, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(got[1, :sum(other)], [_maj_exact_law(other, values, k) for k in ks[:sum(other)]],
                               rtol=1e-10, atol=1e-15)
    assert np.isnan(got[1, sum(other):]).all()


def test_entropy_closed_forms_and_miller_madow():
    h, mm = answer_entropy([[8, 8, 8, 8, 0], [32, 0, 0, 0, 0], [1, 3, 0, 0, 0]])
    np.testing.assert_allclose(h, [math.log(4), 0.0, stats.entropy([1, 3])])
    np.testing.assert_allclose(mm, [math.log(4) + 3 / 64, 0.0, stats.entropy([1, 3]) + 1 / 8])
    # Miller-Madow removes most of the plug-in's downward bias (10 equiprobable answers, n = 32)
    rng = np.random.default_rng(0)
    h, mm = answer_entropy(rng.multinomial(32, [0.1] * 10, size=4000))
    assert abs(mm.mean() - math.log(10)) < 0.25 * abs(h.mean() - math.log(10))


def test_chance_pass_at_k_and_bh():
    np.testing.assert_allclose(chance_pass_at_k([0.0, 0.25, 1.0], [1, 4])[1], [0.25, 1 - 0.75**4])
    p = np.random.default_rng(1).random(50) ** 3
    np.testing.assert_allclose(bh_adjust(p), stats.false_discovery_control(p), rtol=1e-12)
    assert np.isnan(bh_adjust([0.01, np.nan])[1])


def test_guess_test_edges():
    t = guess_test([0, 3, 0, 5], [10, 10, 10, 10], [0.0, 0.0, 0.3, np.nan])
    assert t.pvalue[0] == 1.0 and t.pvalue[1] == 0.0 and np.isnan(t.pvalue[3])
    assert t.guessable.tolist() == [False, False, True, False]  # q = 0 never guessable; NaN untested


def _simulate(rng, q_size, n, skill, guess):
    """One data set: Q problems, references uniform over the answer space, each sample the
    reference with probability ``skill[i]``, else a guess from ``guess``; LOO pooled q as in
    analysis.answer_stats."""
    a = len(guess)
    ref = rng.integers(0, a, q_size)
    hit = rng.binomial(n, skill)
    counts = rng.multinomial(n - hit, guess)
    counts[np.arange(q_size), ref] += hit
    c = counts[np.arange(q_size), ref]
    pooled = counts.sum(axis=0)
    q = (pooled[ref] - c) / (n * (q_size - 1))
    return c, q


@pytest.mark.parametrize("n", [16, 64, 128])
def test_guessable_rule_error_rate_and_power(n):
    """Seeded simulation at user sizes (Q = 300). Null (pure guessing, 4 answers, guess law
    0.4/0.3/0.2/0.1): BH's "above guessing" claims occur in <= alpha of data sets (FWER = FDR
    under the complete null) and the unadjusted per-problem rate is <= alpha. Power: skill
    (P(reference) beyond guessing) 0.6 / 0.3 / 0.2 at n = 16 / 64 / 128: >= 90% not guessable.
    Mixture (half skilled): FDR <= alpha."""
    rng, alpha, q_size, reps = np.random.default_rng(18 + n), 0.05, 300, 60
    guess = np.array([0.4, 0.3, 0.2, 0.1])
    t0 = time.perf_counter()
    any_claim, raw = [], []
    for _ in range(reps):
        c, q = _simulate(rng, q_size, n, np.zeros(q_size), guess)
        t = guess_test(c, np.full(q_size, n), q, alpha)
        any_claim.append((~t.guessable).any())
        raw.append(np.mean(t.pvalue <= alpha))
    assert np.mean(any_claim) <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / reps)
    assert np.mean(raw) <= alpha
    s = {16: 0.6, 64: 0.3, 128: 0.2}[n]
    power = []
    for _ in range(5):
        c, q = _simulate(rng, q_size, n, np.full(q_size, s), guess)
        power.append(1 - guess_test(c, np.full(q_size, n), q, alpha).guessable.mean())
    assert np.mean(power) >= 0.9
    fdp = []
    for _ in range(reps):
        skilled = np.arange(q_size) < q_size // 2
        c, q = _simulate(rng, q_size, n, np.where(skilled, s, 0.0), guess)
        claim = ~guess_test(c, np.full(q_size, n), q, alpha).guessable
        fdp.append((claim & ~skilled).sum() / max(claim.sum(), 1))
    assert np.mean(fdp) <= alpha
    assert time.perf_counter() - t0 < 3.5


def _table(rows):
    pid, mod, idx, ans, ok = zip(*rows)
    return pa.table({"problem_id": list(pid), "model": list(mod), "sample_idx": list(idx),
                     "answer": pa.array(list(ans), pa.string()), "correct": list(ok)})


def test_answer_stats_by_hand():
    rows = []
    for i, (a, ok) in enumerate([("5", True), ("5", True), ("6", False), (None, False)]):
        rows.append(("p1", "base", i, a, ok))
    for i, (a, ok) in enumerate([("6", True), ("7", False), (" 6 ", True), ("5", False)]):
        rows.append(("p2", "base", i, a, ok))
    rows += [("p1", "tuned", 0, "5", True), ("p2", "tuned", 0, "6", True)]
    res = answer_stats(_table(rows), reference={"p1": "5", "p2": "6"}, k=[1, 2, 9])
    t = res.to_table()
    assert t.column("problem_id").to_pylist() == ["p1", "p2", "p1", "p2"]
    assert t.column("model").to_pylist() == ["base", "base", "tuned", "tuned"]
    assert t.column("distinct").to_pylist() == [2, 3, 1, 1]
    assert t.column("no_answer").to_pylist() == [1, 0, 0, 0]
    np.testing.assert_allclose(res.entropy[:2], [stats.entropy([2, 1, 1]), stats.entropy([2, 1, 1])])
    np.testing.assert_allclose(res.entropy_mm[:2], res.entropy[:2] + 2 / 8)
    # p1 base: hit set {"5"}; other problem's answered samples 6, 7, 6, 5 -> q = 1/4
    # p2 base: hit set {"6"}; other problem's answered samples 5, 5, 6 (no answer left out) -> q = 1/3
    np.testing.assert_allclose(res.chance_q, [0.25, 1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(t.column("chance_pass_at_2").to_pylist()[:2], [1 - 0.75**2, 1 - (2 / 3) ** 2])
    # maj@2 of p1 base (5,5,6,None): pairs {5,5}: 1; {5,6},{5,-}: 1/2 each (4 pairs); {6,-}: 0 -> 3/6
    assert t.column("maj_at_2").to_pylist()[0] == pytest.approx(0.5)
    assert t.column("pass_at_2").to_pylist()[0] == pytest.approx(1 - 1 / 6)
    assert np.isnan(t.column("maj_at_9").to_pylist()[0])
    assert res.guessable[2:].tolist() == [False, False]  # q = 0: never guessable
    assert set(res.n_guessable()) == {"base", "tuned"}


def test_answer_sources_and_errors():
    comp = pa.table({"problem_id": ["a", "a", "b"], "model": ["m"] * 3, "sample_idx": [0, 1, 0],
                     "completion": ["so <answer>4</answer>", "The answer is 4.", ""], "correct": [True, True, False]})
    res = answer_stats(comp, reference=None, k=[1])
    assert res.distinct.tolist() == [1, 0] and res.no_answer.tolist() == [0, 1]
    assert np.isnan(res.chance_q[1])  # no reference, nothing graded correct: baseline unknown
    lm = comp.drop(["completion"]).append_column("filtered_resps", pa.array([["4"], ["5"], []]))
    assert answer_stats(lm, k=[1]).distinct.tolist() == [2, 0]
    with pytest.raises(ValueError, match="appears twice"):
        answer_stats(pa.concat_tables([comp, comp]), k=[1])
    with pytest.raises(ValueError, match="answer"):
        answer_stats(comp.drop(["completion"]), k=[1])


def test_answer_stats_end_to_end_null_simulation():
    """The whole table path under pure guessing (Q = 200, n = 32, 2 models): few claims."""
    rng = np.random.default_rng(7)
    q_size, n = 200, 32
    ref = rng.integers(0, 4, q_size)
    rows = {"problem_id": [], "model": [], "sample_idx": [], "answer": [], "correct": []}
    for m in ("base", "tuned"):
        ans = rng.choice(4, size=(q_size, n), p=[0.4, 0.3, 0.2, 0.1])
        rows["problem_id"] += [f"p{i}" for i in range(q_size) for _ in range(n)]
        rows["model"] += [m] * (q_size * n)
        rows["sample_idx"] += list(range(n)) * q_size
        rows["answer"] += [str(a) for a in ans.ravel()]
        rows["correct"] += (ans == ref[:, None]).ravel().tolist()
    t0 = time.perf_counter()
    res = answer_stats(pa.table(rows), reference={f"p{i}": str(r) for i, r in enumerate(ref)}, k=[1, 8])
    assert time.perf_counter() - t0 < 5.0
    assert res.to_table().num_rows == 2 * q_size
    assert sum(res.n_guessable().values()) >= 2 * q_size - 2
    law = np.array([0.4, 0.3, 0.2, 0.1])
    want = [law[ref[int(p[1:])]] for p in res.problem_id]
    np.testing.assert_allclose(res.chance_q, want, atol=0.03)


def test_maj_memo_is_per_model_and_order_free():
    """A model's maj@k is the same whatever model it is analysed beside (its category columns then
    differ); the second pair takes the base's from the memo, bit for bit, and equals maj_at_k."""
    from collections import Counter

    from supportscope.analysis import answer_stats as mod
    from supportscope.stats.answers import maj_at_k

    rng = np.random.default_rng(3)
    rows = [(f"p{i}", m, j, str(rng.integers(lo, lo + 5)), False) for m, lo in (("base", 0), ("a", 3), ("b", 4))
            for i in range(5) for j in range(12)]
    rows = [(p, m, j, a, a == "3") for p, m, j, a, _ in rows]
    mod._MAJ_MEMO.clear()
    ks = [1, 3, 12]
    first = answer_stats(_table([r for r in rows if r[1] in ("base", "a")]), k=ks)
    size = len(mod._MAJ_MEMO)
    second = answer_stats(_table([r for r in rows if r[1] in ("base", "b")]), k=ks)
    assert size == 2 and len(mod._MAJ_MEMO) == 3  # the base's entry was reused
    assert np.array_equal(first.maj_at_k[first.model == "base"], second.maj_at_k[second.model == "base"])
    per = [Counter(r[3] for r in rows if r[1] == "base" and r[0] == f"p{i}") for i in range(5)]
    width = max(len(c) for c in per)
    counts = np.array([list(c.values()) + [0] * (width - len(c)) for c in per])
    values = np.array([[float(a == "3") for a in c] + [0.0] * (width - len(c)) for c in per])
    np.testing.assert_allclose(first.maj_at_k[first.model == "base"], maj_at_k(counts, values, ks), rtol=1e-12)
