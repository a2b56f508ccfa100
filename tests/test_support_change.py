"""Creation and loss as claims about the set: error rate under the null, power, and the verdict
that cannot mislead (issue 12). Simulations are seeded and sized for CI (about 40 s in all)."""

import re

import numpy as np
import pytest
from scipy.special import expit, logit

from supportscope.analysis import AnalyzeConfig, compare
from supportscope.analysis.inputs import ModelCounts
from supportscope.analysis.verdict import _GRID, verdict
from supportscope.stats import eps
from supportscope.stats import mixing
from supportscope.stats.regimes import accessibility
from supportscope.stats.support_change import label_thresholds, problem_pvalues, support_change

K, N = 64, 128
E = float(eps(K))


def tilt_data(rng, m, datasets, created=0, Q=500, lam=1.0, zeros=100):
    """A pure Gibbs tilt (logit p1 = logit p0 + lam, p0 = 0 stays 0) with m problems whose p0 lies in
    [eps(K), 0.06]; the rest either never solvable or comfortably above 0.06, so no problem is truly
    created. ``created`` extra problems go from p0 = 0 to p1 = 0.3 (true creation)."""
    D = datasets
    p0 = np.concatenate([rng.uniform(E, 0.06, (D, m)), np.zeros((D, zeros)),
                         rng.uniform(0.06, 0.99, (D, Q - m - zeros - created)), np.zeros((D, created))], axis=1)
    p1 = expit(logit(np.clip(p0, 1e-300, 1)) + lam)
    p1[p0 == 0] = 0.0
    if created:
        p1[:, -created:] = 0.3
    c0, c1 = rng.binomial(N, p0), rng.binomial(N, p1)
    a0 = accessibility(c0, np.full_like(c0, N), K)
    a1 = accessibility(c1, np.full_like(c1, N), K)
    label = np.where((a0 == 0) & (a1 == 1), "created", np.where((a0 == 1) & (a1 == 0), "lost", "other"))
    return p0, p1, c0, c1, label.astype(object)


@pytest.mark.parametrize("m", [20, 50, 100])
def test_creation_claims_under_a_pure_tilt_are_rare(m):
    """Acceptance: <= 5% of >= 400 data sets claim creation (per-problem labels alone: 17/35/57%)."""
    rng = np.random.default_rng(100 + m)
    _, _, c0, c1, label = tilt_data(rng, m, 400)
    nn = np.full_like(c0, N)
    r = support_change(c0, nn, c1, nn, label, K, directions=("created",))["created"]
    any_label = (label == "created").any(axis=1).mean()
    assert r.claimed.mean() <= 0.05, (m, r.claimed.mean(), any_label)
    if m == 100:
        assert any_label > 0.4  # the multiplicity problem is really there in this design


def test_creation_claims_have_power():
    """Acceptance: the 100-problem null plus 10 problems 0 -> 0.3: creation claimed in >= 80%."""
    rng = np.random.default_rng(7)
    _, _, c0, c1, label = tilt_data(rng, 100, 400, created=10)
    nn = np.full_like(c0, N)
    r = support_change(c0, nn, c1, nn, label, K, directions=("created",))["created"]
    assert r.claimed.mean() >= 0.8


def test_null_count_bound_covers_the_true_expected_count():
    """The profile-likelihood bound covers M = sum f_in(p0) 1{p0 >= eps} + f_acc(p1) 1{p1 < eps}."""
    rng = np.random.default_rng(3)
    p0, p1, c0, c1, label = tilt_data(rng, 100, 200)
    nn = np.full_like(c0, N)
    r = support_change(c0, nn, c1, nn, label, K, directions=("created",))["created"]
    c_in, c_acc = label_thresholds(np.array([N]), K, 0.05, 0.05)
    from scipy.stats import binom
    true = ((binom.cdf(c_in[0], N, p0) * (p0 >= E)).sum(axis=1)
            + (binom.sf(c_acc[0] - 1, N, p1) * (p1 < E)).sum(axis=1))
    assert (r.expected_ucb >= true).mean() >= 0.95
    # the labels counted really are Bernoulli with these means: the mean count is near (below) M
    assert (label == "created").sum(axis=1).mean() <= true.mean() * 1.15


def test_lost_claims_under_a_pure_tilt_are_rare():
    """The mirror image: a downward tilt with problems just above eps(K) in the tuned model."""
    rng = np.random.default_rng(11)
    p0, p1, c0, c1, _ = tilt_data(rng, 100, 150)
    # swap roles: the tuned model is the base tilted down
    nn = np.full_like(c0, N)
    a0 = accessibility(c1, nn, K)
    a1 = accessibility(c0, nn, K)
    label = np.where((a0 == 1) & (a1 == 0), "lost", "other").astype(object)
    r = support_change(c1, nn, c0, nn, label, K, directions=("lost",))["lost"]
    assert r.claimed.mean() <= 0.05


def test_problem_pvalues_match_their_definition():
    # intersection-union: the larger of the two binomial tails at eps(K)
    from scipy.stats import binom
    p = problem_pvalues(np.array([0, 1, 5]), np.array([128] * 3), np.array([30, 12, 5]), np.array([128] * 3), E)
    want = np.maximum(binom.cdf([0, 1, 5], 128, E), binom.sf(np.array([30, 12, 5]) - 1, 128, E))
    np.testing.assert_allclose(p, want)
    # smallest possible at n = 128: 0.05^2 = 0.0025 on the base side
    assert problem_pvalues(0, 128, 128, 128, E) == pytest.approx((1 - E) ** 128)
    # anytime-valid: never smaller than the fixed-n tail, and 1 on the wrong side of eps
    pa = problem_pvalues(np.array([0, 10]), np.array([512, 128]), np.array([100, 100]), np.array([512, 128]), E,
                         anytime=True)
    assert pa[0] >= binom.cdf(0, 512, E) and pa[1] == 1.0


def test_npmle_recovers_a_two_point_mixture():
    rng = np.random.default_rng(0)
    p = np.where(rng.random(4000) < 0.3, 0.05, 0.6)
    c = rng.binomial(200, p)
    grid = mixing.grid_for(0.05)
    cu, nu, inv = mixing.count_table(c, np.full_like(c, 200))
    W = np.bincount(inv.ravel(), minlength=len(cu))[None, :].astype(float)
    G = mixing.npmle(W, mixing.likelihood(cu, nu, grid))[0]
    assert G[(grid > 0.03) & (grid < 0.08)].sum() == pytest.approx(0.3, abs=0.03)
    assert G[(grid > 0.5) & (grid < 0.7)].sum() == pytest.approx(0.7, abs=0.03)


# ------------------------------------------------------------------ the verdict on constructed cases
def mc(name, c, n):
    return ModelCounts.from_arrays(name, [f"q{i:03d}" for i in range(len(c))], n, c)


def analyse(c0, c1, n=N, bootstrap=1000):
    n = np.full(len(c0), n)
    return compare(mc("base", c0, n), mc("tuned", c1, n), AnalyzeConfig(bootstrap=bootstrap)).summary


PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)%")


def shares_in_range(s):
    vals = [float(x) for x in PERCENT.findall(s["verdict"]["sentence"])]
    labs = [r["share_of_gross_gain"] for r in s["labels"].values() if r["share_of_gross_gain"] is not None]
    return all(0 <= v <= 100 for v in vals) and all(0 <= v <= 1 for v in labs)


def test_case1_no_share_outside_unit_interval():
    # 3 problems 0 -> 20/128, 50 problems 64 -> 63, 147 unchanged (net pass@1 gain ~ 0: 600% before)
    c0 = [0] * 3 + [64] * 50 + [90] * 147
    c1 = [20] * 3 + [63] * 50 + [90] * 147
    s = analyse(c0, c1)
    assert shares_in_range(s), s["verdict"]["sentence"]
    # 100 up and 100 down by the same amount plus 3 created (+-8333% before)
    c0 = [0] * 3 + [40] * 100 + [80] * 100
    c1 = [20] * 3 + [80] * 100 + [40] * 100
    s = analyse(c0, c1)
    assert shares_in_range(s), s["verdict"]["sentence"]


def test_case1_share_at_passK_names_creation():
    # 30 problems 0 -> 30/128 beside 170 mild gains: pass@64's gain is all created ("23%" at pass@1 before)
    c0 = [0] * 30 + [60] * 170
    c1 = [30] * 30 + [70] * 170
    s = analyse(c0, c1)
    assert s["verdict"]["kind"] == "creation", s["verdict"]["sentence"]
    assert s["labels"]["created"]["share_of_gross_gain"] > 0.9
    assert "of the gross pass@64 gain" in s["verdict"]["sentence"]


def test_case2_a_regression_is_called_a_regression():
    # 1 problem 0 -> 30/128, 199 problems 100 -> 60/128 ("Creation at K=64" before)
    s = analyse([0] + [100] * 199, [30] + [60] * 199)
    assert s["verdict"]["kind"].startswith("regression"), s["verdict"]
    assert s["verdict"]["sentence"].startswith("Regression at pass@1")
    assert shares_in_range(s)


def test_verdict_grid_covers_every_cell():
    """Each (success, created, lost) cell gives its kind; a pass@1 drop is always a regression."""
    base = analyse([0] * 30 + [60] * 170, [30] * 30 + [70] * 170, bootstrap=200)
    for (success, c_ok, l_ok), kind in _GRID.items():
        s = {**base, "support_change": {**base["support_change"]}}
        s["support_change"]["created"] = {**base["support_change"]["created"], "claimed": c_ok}
        s["support_change"]["lost"] = {**base["support_change"]["lost"], "claimed": l_ok}
        lo, hi = {"up": (0.01, 0.2), "flat": (-0.01, 0.01), "down": (-0.2, -0.01)}[success]
        s["passk"] = [{**base["passk"][0], "difference_lo": lo, "difference_hi": hi}] + base["passk"][1:]
        v = verdict(s)
        assert v["kind"] in (kind, "mostly elicitation"), (success, c_ok, l_ok, v)
        assert v["success"] == success
        if success == "down":
            assert v["kind"].startswith("regression") and v["sentence"].startswith("Regression")
        assert shares_in_range({**s, "verdict": v})


# ------------------------------------------------------------------ review regressions
def test_profile_upper_moves_mass_where_the_npmle_has_none():
    """50 problems all 128/128: G_hat has no mass near eps(K) (EM underflow), yet moving ~6% of the mass
    there stays inside the likelihood band; the bound was stuck at the plug-in 0 (count test p ~ 0)."""
    from scipy.stats import norm
    t = E
    grid = mixing.grid_for(t)
    c = np.full((1, 50), N)
    cu, nu, inv = mixing.count_table(c, np.full_like(c, N))
    L = mixing.likelihood(cu, nu, grid)
    W = np.array([[50.0]])
    G = mixing.npmle(W, L)
    c_in, _ = label_thresholds(np.array([N]), K, 0.05, 0.05)
    from scipy.stats import binom
    H = 50 * binom.cdf(c_in[0], N, grid) * (grid >= t)
    ub = mixing.profile_upper(W, L, H, G, 0.05 / 8)[0]
    kappa = norm.ppf(1 - 0.05 / 8) ** 2 / 2
    # a feasible two-point G: (1 - m) G_hat + m delta_g at the best atom
    g = int(np.argmax(H))
    m = 0.99 * (1 - np.exp(-kappa / 50))
    G2 = (1 - m) * G.copy()
    G2[0, g] += m
    assert mixing.loglik(W, L, G)[0] - mixing.loglik(W, L, G2)[0] <= kappa
    assert ub >= 0.9 * float((H * G2[0]).sum()) > 0.01


def test_mm_step_stays_on_the_simplex_when_reviving_atoms():
    grid = mixing.grid_for(E)
    L = mixing.likelihood(np.array([N]), np.array([N]), grid)
    G = mixing.npmle(np.array([[20.0]]), L)
    a = np.where(grid >= E, 50.0, 0.0)[None, :]
    Gn = mixing._mm_step(np.array([[20.0]]), L, G, a)
    assert np.all(Gn >= 0) and Gn.sum() == pytest.approx(1.0) and Gn[0, grid >= E].sum() > 0


def test_verdict_names_problems_confirmed_by_a_followup(monkeypatch):
    """Undetermined created-candidates confirmed as created by a follow-up: the sentence said
    "0 problems (ids ) ... carrying 0% of the gross gain" and the kind "mostly elicitation"."""
    import pyarrow as pa

    import supportscope.store.counts as rc

    ids = [f"q{i:03d}" for i in range(5)]
    rows = [(p, m, 512, c) for p in ids for m, c in (("base", 0), ("tuned", 100))]
    tab = pa.table({"problem_id": [r[0] for r in rows], "model": [r[1] for r in rows],
                    "n": [r[2] for r in rows], "correct": [r[3] for r in rows]})
    monkeypatch.setattr(rc, "counts_from_samples", lambda run, stage="main", verify=False: tab)

    class Run:
        manifest = {"entries": {"base": {"followup": {"problems": ids}}, "tuned": {"followup": {"problems": ids}}}}

        def models(self, kind):
            return []

    c0, c1 = [0] * 5 + [60] * 195, [3] * 5 + [62] * 195  # 0/128 -> 3/128: undetermined, created|unsolved
    nn = np.full(200, N)
    s = compare(mc("base", c0, nn), mc("tuned", c1, nn), AnalyzeConfig(bootstrap=200), run=Run()).summary
    v = s["verdict"]
    assert s["support_change"]["created"]["claimed"] and s["labels"]["created"]["count"] == 0
    assert "(ids )" not in v["sentence"] and ": 0 problems" not in v["sentence"], v
    assert "5 problems (ids q000" in v["sentence"] and v["kind"] == "creation", v


def test_verdict_singular_verb():
    s = compare(mc("base", [0], [N]), mc("tuned", [N], [N]), AnalyzeConfig(bootstrap=200)).summary
    assert "1 problem (ids q000) that the base cannot reach within 64 samples becomes reachable" \
        in s["verdict"]["sentence"], s["verdict"]["sentence"]


def test_profile_bound_reaches_a_known_feasible_value():
    """Problems with 1-3 successes of 128 beside a bulk at 0.6: moving 0.01 of G's mass from the atom
    nearest them to eps(K) is within the likelihood band (drop 2.2 < z^2/2 = 3.1), so the bound of the
    base side's null count must reach at least that G's value, 0.0357 (it was 1e-14 before the
    vertex-direction step)."""
    from scipy.stats import norm
    from supportscope.stats.support_change import _Fit, _h
    rng = np.random.default_rng(0)
    c0 = np.concatenate([[1, 2, 3], rng.binomial(N, 0.6, 197)])[None]
    n = np.full_like(c0, N)
    grid = mixing.grid_for(E)
    fit = _Fit(c0, n, grid, E)
    H = _h(grid, n, lambda nv: label_thresholds(nv, K, 0.05, 0.05), E, "in")
    G = fit.G.copy()
    j = np.argmax(G[0] * (grid < E))
    G[0, j] -= 0.01
    G[0, grid == E] += 0.01
    drop = mixing.loglik(fit.W, fit.L, fit.G) - mixing.loglik(fit.W, fit.L, G)
    kappa = norm.ppf(1 - 0.05 / 8) ** 2 / 2
    assert drop[0] < kappa
    assert mixing.profile_upper(fit.W, fit.L, H, fit.G, 0.05 / 8)[0] >= (H * G).sum() * 0.99
