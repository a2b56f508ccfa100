"""Pure numpy/scipy statistics for supportscope (DESIGN.md sections 2-4).

pass@k curves, paired bootstrap, Clopper-Pearson bounds and budgets, regimes, per-problem
difference tests, the Gibbs tilt and the elicitation frontier, KL estimators, the support metrics of "The Invisible Leash",
anytime-valid confidence sequences and the adaptive allocation rule.
No torch, pandas or pyarrow here.
"""

from .bootstrap import PairedBootstrap, percentile_interval
from .bounds import clopper_pearson, eps, max_certifiable_budget, n_to_decide
from .difference import two_proportion_pvalues
from .frontier import (
    FrontierContributions,
    ceiling_probabilities,
    default_lams,
    frontier_contributions,
    posterior_nodes,
    posterior_passk,
    solve_on_curve,
)
from .gibbs import (
    fit_global_tilt,
    fit_global_tilt_batched,
    gibbs_tilt,
    implied_tilt,
    jeffreys,
    tilt,
    tilt_residuals,
)
from .tilt_gof import TiltFit, tilt_gof, tilt_r2
from .kl import (
    KLEstimate,
    bernoulli_kl,
    bernoulli_kl_lower_bound,
    dpi_pvalues,
    dpi_violations,
    kl_estimators,
)
from .leash import Venn, VennAtK, common_budget, leash_metrics, venn, venn_at_k
from .passk import passk_at, passk_curves, pooled_passk
from .sequences import accessibility_anytime, confidence_sequence, regime_decided_anytime, samples_to_close
from .allocation import futile_mask, next_round, open_mask, simulate_adaptive, simulate_uniform
from .support_change import SupportChangeTest, problem_pvalues, support_change
from .regimes import (
    BARRIER,
    BASIN,
    INACCESSIBLE,
    REGIMES,
    SINGULAR,
    TAIL,
    UNDETERMINED,
    RegimeResult,
    accessibility,
    classify,
)

__all__ = [
    "accessibility_anytime",
    "confidence_sequence",
    "futile_mask",
    "next_round",
    "open_mask",
    "regime_decided_anytime",
    "samples_to_close",
    "simulate_adaptive",
    "simulate_uniform",
    "BARRIER",
    "BASIN",
    "REGIMES",
    "INACCESSIBLE",
    "SINGULAR",
    "TAIL",
    "UNDETERMINED",
    "KLEstimate",
    "PairedBootstrap",
    "RegimeResult",
    "TiltFit",
    "Venn",
    "accessibility",
    "bernoulli_kl",
    "bernoulli_kl_lower_bound",
    "classify",
    "clopper_pearson",
    "dpi_pvalues",
    "dpi_violations",
    "eps",
    "FrontierContributions",
    "ceiling_probabilities",
    "default_lams",
    "frontier_contributions",
    "posterior_nodes",
    "posterior_passk",
    "solve_on_curve",
    "fit_global_tilt",
    "fit_global_tilt_batched",
    "gibbs_tilt",
    "implied_tilt",
    "jeffreys",
    "kl_estimators",
    "leash_metrics",
    "max_certifiable_budget",
    "n_to_decide",
    "passk_at",
    "passk_curves",
    "percentile_interval",
    "pooled_passk",
    "tilt",
    "tilt_gof",
    "tilt_r2",
    "tilt_residuals",
    "two_proportion_pvalues",
    "venn",
    "venn_at_k",
    "common_budget",
    "VennAtK",
    "SupportChangeTest",
    "problem_pvalues",
    "support_change",
]
