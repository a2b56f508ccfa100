"""The model organism (DESIGN.md section 6): a tiny Llama pretrained on a synthetic corpus whose
task families land in known regimes, with exact success probabilities as ground truth.

- ``families``: the problems (add / mul / sub arithmetic with one systematic wrong answer, facts,
  absent facts); ``corpus``: ``CorpusConfig`` and the pretraining lines;
- ``model``: the character tokenizer and the Llama config; ``pretrain``: ``TrainConfig``,
  ``pretrain(corpus_cfg, train_cfg, out_dir)``, ``load_organism``;
- ``exact``: ``exact_p`` / ``exact_p_raw`` (teacher-forced, exact); ``task``: the ``organism:`` task;
- ``envs``: environments the policy can call (calculator, search, verifier feedback), their turn
  rules and ``EnvBackend`` rollouts; ``exact_env``: exact p of policy + environment (episode tree);
- ``posttrain`` (RL, optionally with an environment; RS-SFT; new-info SFT), ``distill`` (SFT on a
  teacher's samples; ``task.TEACHER`` is the packaged teacher with ``sub`` always correct).

The ``organism:`` task prefix is registered lazily by ``supportscope.tasks.registry``. Torch is
imported only by ``model``, ``pretrain`` and ``exact`` (on use).
"""

from __future__ import annotations

from .corpus import CorpusConfig, corpus_lines
from .families import ALPHABET, EOS, FAMILIES, OrganismProblem, all_problems
from .task import CHECKPOINT, OrganismTask, organism_factory

__all__ = ["ALPHABET", "EOS", "FAMILIES", "OrganismProblem", "all_problems", "CorpusConfig", "corpus_lines",
           "OrganismTask", "organism_factory", "CHECKPOINT"]
