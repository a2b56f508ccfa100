"""Environments a policy samples with (``Policy.env``, ``--env``): names -> the code that builds them.

An environment's replies are appended to the policy's context while it samples (issue 16); the
samples then carry a ``policy_mask`` (1 = policy token, 0 = environment token). The environments
live in a higher layer (``supportscope.organism.envs``), so they are registered here by import
string and imported only when a policy with ``env`` is loaded::

    ENVIRONMENTS.register("calc", "supportscope.organism.envs:build_env", help="...")

A target is a function ``(name, corpus) -> Environment``; the wrapper that samples episodes is
``supportscope.organism.envs.rollout:EnvBackend`` and the corpus (the problems an environment
knows) is ``CorpusConfig.load(<policy.model>/corpus_config.json)`` when the model directory has one,
else the default ``CorpusConfig()``. No torch here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supportscope.registry import Registry

__all__ = ["ENVIRONMENTS", "wrap_env"]

ENVIRONMENTS = Registry("environment")
ENVIRONMENTS.register("calc", "supportscope.organism.envs:build_env",
                      help="calculator: the call [c] at the start of the answer is replied <R>, R = a?b exactly")
ENVIRONMENTS.register("search", "supportscope.organism.envs:build_env",
                      help="fact search: the call [s] on a fact prompt is replied <V>, the fact's value")
ENVIRONMENTS.register("feedback", "supportscope.organism.envs:build_env",
                      help="verifier feedback: a wrong answer is replied <n> and the policy answers again")

#: The episode sampler (``EnvBackend(inner, env)``) and the corpus config class, by import string.
_WRAPPER = Registry("environment wrapper")
_WRAPPER.register("backend", "supportscope.organism.envs.rollout:EnvBackend")
_WRAPPER.register("corpus", "supportscope.organism.corpus:CorpusConfig")

CORPUS_FILE = "corpus_config.json"


def wrap_env(backend: Any, policy: Any) -> Any:
    """``backend`` itself when ``policy.env`` is None, else ``EnvBackend(backend, env)`` with the
    environment ``policy.env`` over the corpus of ``policy.model`` (see the module docstring)."""
    name = getattr(policy, "env", None)
    if name is None:
        return backend
    corpus_cls = _WRAPPER.get("corpus")
    path = Path(policy.model) / CORPUS_FILE
    corpus = corpus_cls.load(path) if path.is_file() else corpus_cls()
    return _WRAPPER.get("backend")(backend, ENVIRONMENTS.get(name)(name, corpus))
