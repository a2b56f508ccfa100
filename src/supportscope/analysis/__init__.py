"""Analysis layer: `compare(base, tuned, config)` -> per-problem table + summary (DESIGN.md 2-4)."""

from supportscope.analysis.compare import Comparison, compare
from supportscope.analysis.config import AnalyzeConfig, ConfigError
from supportscope.analysis.inputs import ModelCounts, PairedCounts, model_counts, pair_models

__all__ = ["AnalyzeConfig", "Comparison", "ConfigError", "ModelCounts", "PairedCounts", "compare",
           "model_counts", "pair_models"]
