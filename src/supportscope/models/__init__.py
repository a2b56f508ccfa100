"""Models layer (DESIGN.md section 5): Policy + DecodingConfig, the Backend protocol, the Hugging Face
backend (sampling with per-sample generators, chunked teacher-forced scoring, exact KL).

`config` and `backend` import no torch; the torch parts (`decoding`, `hf`, `loading`, `scoring`)
are imported lazily on first attribute access, so `from supportscope.models import DecodingConfig`
stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from supportscope.models.backend import (FINISH_REASONS, Backend, FinishReason, Sample, SampleRequest, Score,
                                         ScoreItem)
from supportscope.models.config import DTYPES, DecodingConfig, ModelConfigError, Policy

_LAZY = {
    "HFBackend": "supportscope.models.hf",
    "PromptTooLongError": "supportscope.errors",
    "ModelLoadError": "supportscope.errors",
    "TokenizerMismatchError": "supportscope.errors",
    "BACKENDS": "supportscope.models.registry",
    "build_backend": "supportscope.models.registry",
    "check_same_tokenizer": "supportscope.models.loading",
    "tokenizer_fingerprint": "supportscope.models.loading",
    "load_model_and_tokenizer": "supportscope.models.loading",
    "decoding_logprobs": "supportscope.models.decoding",
    "raw_logprobs": "supportscope.models.decoding",
    "sample_seed": "supportscope.models.sampling",
}

__all__ = ["Backend", "DTYPES", "DecodingConfig", "FINISH_REASONS", "FinishReason", "ModelConfigError", "Policy",
           "Sample", "SampleRequest", "Score", "ScoreItem", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'supportscope.models' has no attribute {name!r}")
