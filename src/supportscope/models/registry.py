"""The backend registry: ``--backend NAME`` -> the engine that samples and scores.

A backend is a class implementing :class:`~supportscope.models.backend.Backend` plus a
classmethod ``build(policy, batch_size)``; ``environments=True`` in its metadata says it can sample
episodes with an environment (``Policy.env``: it has ``generate_ids``, id-level sampling). Adding
one is one module plus one line here::

    BACKENDS.register("sglang", "supportscope.models.sglang_backend:SGLangBackend", help="SGLang's engine")

Entries are imported only when a model is loaded (no torch or vLLM at import time), and
:func:`build_backend` is what the CLI, the pipeline and the Ray workers (``scale.ray_exec``) call.
"""

from __future__ import annotations

from typing import Any

from supportscope.models.env_registry import wrap_env
from supportscope.registry import Registry

__all__ = ["BACKENDS", "build_backend"]

BACKENDS = Registry("backend")
BACKENDS.register("hf", "supportscope.models.hf:HFBackend", help="Hugging Face transformers, the reference",
                  environments=True)
BACKENDS.register("vllm", "supportscope.models.vllm_backend:VLLMBackend",
                  help="vLLM's offline engine (pip install 'supportscope[vllm]')")


def build_backend(policy: Any, batch_size: int, engine: Any = None) -> Any:
    """The backend ``policy.backend`` names, built for ``policy`` (no console output); ``engine`` (an
    :class:`~supportscope.models.config.EngineConfig`: token budget, decode path) when given; with
    ``policy.env``, wrapped so that its samples are episodes with that environment
    (:func:`supportscope.models.env_registry.wrap_env`)."""
    cls = BACKENDS.get(policy.backend)
    backend = cls.build(policy, batch_size) if engine is None else cls.build(policy, batch_size, engine=engine)
    return wrap_env(backend, policy)
