"""What a user samples: the model + prompt format (`Policy`) and the decoding config (`DecodingConfig`).

DESIGN.md section 1: a policy is weights + prompt format + decoding config D. The *decoding
distribution* pi_D is, per token, the softmax after temperature and truncation (top-k, top-p,
min-p), renormalised; a token outside the kept set has probability exactly 0. The *raw*
distribution is T = 1 with no truncation. `supportscope.models.decoding` implements both.

No torch here: the CLI generates its options from these dataclasses (every field has a default
and `metadata["help"]`), and `to_dict()` goes into run manifests.
"""

from __future__ import annotations

from supportscope.config_checks import SEED, check_fields
from supportscope.errors import ConfigError, ModelConfigError
from supportscope.models.env_registry import ENVIRONMENTS
from supportscope.models.registry import BACKENDS
from supportscope.registry import suggest

from dataclasses import asdict, dataclass, field
from pathlib import Path

DTYPES = ("float32", "bfloat16", "float16")

#: The one default of ``--batch-size`` (sample, score, audit-data, run): sequences generated or
#: scored per call of a backend.
BATCH_SIZE = 64
#: Largest max_new_tokens: 2^20, beyond the context of any model (a prompt plus max_new_tokens
#: beyond the model's own context is refused when it is loaded, PromptTooLongError).
MAX_NEW_TOKENS = 2**20
#: Decode paths of the HF backend (``--decode``), the default first; see models/hf_tree.py and hf_generate.py.
DECODE_PATHS = ("tree", "shared", "static", "compiled", "reference")



@dataclass
class DecodingConfig:
    """The decoding config D. Values are checked at construction (:meth:`validate`); a bad one raises
    ModelConfigError naming the field (the CLI spells it as the flag, ``--top-p``)."""

    temperature: float = field(
        default=1.0,
        metadata={"help": "Sampling temperature T: logits are divided by T before truncation. "
                  "T = 0 is greedy decoding (all mass on the argmax, lowest token id on ties)."})
    top_p: float = field(
        default=1.0,
        metadata={"help": "Nucleus truncation: keep the smallest set of most probable tokens whose "
                  "probability sums to >= top_p (always at least the top token). 1.0 = off."})
    top_k: int = field(
        default=0, metadata={"help": "Keep only the k most probable tokens (ties: lower token id first). 0 = off.",
                             "min": 0, "max": 2**31 - 1, "example": 50})
    min_p: float = field(
        default=0.0,
        metadata={"help": "Keep only tokens with probability >= min_p times the top token's probability. 0 = off."})
    max_new_tokens: int = field(
        default=256, metadata={"help": "Largest number of generated tokens per sample (finish_reason 'length').",
                               "min": 1, "max": MAX_NEW_TOKENS})
    stop: list[str] = field(
        default_factory=list,
        metadata={"help": "Stop strings (repeat the option): generation ends when the completion contains one; "
                  "the completion is cut before it (finish_reason 'stop_string').", "example": "'Question:'"})
    seed: int = field(
        default=0,
        metadata={"help": "Base seed. Each sample's own seed is a stable hash of (seed, problem_id, sample_idx), "
                  "so any subset of samples can be regenerated alone with identical tokens.", **SEED})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ModelConfigError (a ValueError) naming the field when a value cannot work. Runs at
        construction (and ``dataclasses.replace``); call it again after changing a field in place."""
        _checked_fields(self)
        t = self.temperature
        if t < 0:
            raise ModelConfigError(f"`temperature` {t!r} must be a finite number >= 0 "
                                   "(0 = greedy). Fix: e.g. `temperature` 1.0")
        if not 0.0 < self.top_p <= 1.0:
            raise ModelConfigError(f"`top_p` {self.top_p!r} must lie in (0, 1] (1.0 = no nucleus truncation). "
                                   "Fix: e.g. `top_p` 0.95")
        if not 0.0 <= self.min_p < 1.0:
            raise ModelConfigError(f"`min_p` {self.min_p!r} must lie in [0, 1) (0 = off). Fix: e.g. `min_p` 0.05")
        if any(s == "" for s in self.stop):
            raise ModelConfigError(f"`stop` {self.stop!r} must be a list of non-empty strings. "
                                   "Fix: e.g. `stop` 'Question:' (one non-empty string per value)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def is_raw(self) -> bool:
        """True when the decoding distribution equals the raw one (T = 1, no truncation)."""
        return self.temperature == 1 and self.top_k == 0 and self.top_p >= 1.0 and self.min_p == 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DecodingConfig":
        out = cls(**d)  # validated at construction
        out.stop = list(out.stop)
        return out


@dataclass
class Policy:
    """A model + prompt format. Values (dtype, device, backend) are checked at construction
    (:meth:`validate`); ``model`` may stay empty until the policy is used (``Policy()`` is a valid
    placeholder), so "model is required" is a separate check, :meth:`require`, run where a model is
    loaded (``pipeline.sample.load_backend``, ``models.loading``, the vLLM backend) and by the CLI."""

    model: str = field(
        default="",
        metadata={"help": "A local model directory (config.json + *.safetensors + tokenizer) or a .gguf file."})
    name: str | None = field(
        default=None,
        metadata={"help": "Name recorded in the sample/score rows. Default: the directory name or the "
                  ".gguf file stem."})
    dtype: str = field(
        default="float32",
        metadata={"help": "Weights and activations dtype: float32 | bfloat16 | float16. Log-softmax is "
                  "always computed in float32."})
    device: str = field(
        default="cpu", metadata={"help": "cpu | cuda | cuda:N | auto (cuda when available, else cpu)."})
    chat: bool = field(
        default=False,
        metadata={"help": "Wrap each prompt as one user turn with the tokenizer's chat template "
                  "(generation prompt added); otherwise the prompt is raw text."})
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "Allow the model directory to run its own Python code (only for models you trust)."})
    backend: str = field(
        default="hf",
        metadata={"help": "hf (Hugging Face transformers, the reference) | vllm (vLLM's offline engine; "
                  "pip install 'supportscope[vllm]'). Both write the same rows."})
    env: str | None = field(
        default=None,
        metadata={"help": "An environment the policy interacts with while sampling (organism: calc, search, "
                  "feedback); its replies are environment tokens (the samples' policy_mask), not scored as the "
                  "policy's. Default name then MODEL+ENV.", "example": "calc"})

    def __post_init__(self) -> None:
        _checked_fields(self)  # model must be a string before it is read as a path
        if self.name is None and self.model:
            p = Path(self.model)
            self.name = p.stem if p.suffix.lower() == ".gguf" else (p.resolve().name or str(p))
            if self.env is not None:
                self.name += "+" + self.env
        self.validate()

    def validate(self) -> None:
        """Raise ModelConfigError (a ValueError) naming the field when a value cannot work. Runs at
        construction (and ``dataclasses.replace``); call it again after changing a field in place.
        An empty ``model`` is not a value error (see :meth:`require`)."""
        _checked_fields(self)
        if self.dtype not in DTYPES:
            raise ModelConfigError(f"`dtype` {self.dtype!r} is not one of {', '.join(DTYPES)}. "
                                   "Fix: e.g. `dtype` bfloat16")
        if self.backend not in BACKENDS:
            raise ModelConfigError(f"`backend` {self.backend!r} is not one of {', '.join(BACKENDS.names())}. "
                                   "Fix: `backend` hf")
        if self.env is not None and self.env not in ENVIRONMENTS:
            raise ModelConfigError(f"`env` {self.env!r} is not one of {', '.join(ENVIRONMENTS.names())}. "
                                   f"Fix: {suggest(self.env, ENVIRONMENTS.names())}e.g. `env` calc")
        if self.env is not None and not BACKENDS.meta(self.backend).get("environments"):
            raise ModelConfigError(f"`backend` {self.backend} cannot sample with an environment (`env` {self.env}): "
                                   "it has no id-level sampling. Fix: `backend` hf")
        dev = self.device
        ok = (dev in ("cpu", "cuda", "auto", "mps")
                                       or (dev.startswith("cuda:") and dev[5:].isdigit()))
        if not ok:
            raise ModelConfigError(f"`device` {dev!r} is not cpu, cuda, cuda:N, mps or auto. Fix: e.g. `device` auto")

    def require(self) -> None:
        """Raise ModelConfigError unless the policy can be loaded: ``model`` is set (and every value
        passes :meth:`validate`). Called where a model is loaded, and by the CLI once it has built
        the policy."""
        if not self.model:
            raise ModelConfigError("`model` is empty. Fix: pass a model directory or a .gguf file")
        self.validate()

    def to_dict(self) -> dict:
        """The fields as JSON data (run manifests record it); ``env`` only when set, so a policy
        without one gives the dict it gave before the field existed (and old runs resume)."""
        d = asdict(self)
        if d["env"] is None:
            del d["env"]
        return d


@dataclass
class EngineConfig:
    """How the HF backend batches and decodes. Speed only: the rows written are the same up to float
    rounding of the logits (a token flips only when its uniform falls within that rounding of a CDF
    boundary), so these settings are not part of a run's recorded config."""

    max_batch_tokens: int = field(
        default=0,
        metadata={"help": "Token budget of one forward batch (sampling and scoring): a batch holds at most "
                  "rows x (longest prompt + max_new_tokens, or + longest completion when scoring) token slots, "
                  "besides at most --batch-size rows; a longer single row runs alone. With a budget, scoring "
                  "batches are no longer capped at 16 sequences. 0 = rows only (the HF backend).",
                  "min": 0, "max": 2**40, "example": 262144})
    decode: str = field(
        default="tree",
        metadata={"help": "Decode loop of the HF backend: tree (each distinct prefix, prompt + tokens so far, "
                  "runs once per step: samples that agree share their forwards) | shared (each distinct "
                  "prompt prefilled once, its KV cache copied to its samples, then every row steps) | static "
                  "(shared prefill, a preallocated cache and a fixed-shape step with no host sync) | "
                  "compiled (static under torch.compile) | reference (every row prefilled alone and every "
                  "item scored in full; the loop all others are tested against; the others score each "
                  "prompt once)."})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ModelConfigError naming the field when a value cannot work."""
        _checked_fields(self)
        if self.decode not in DECODE_PATHS:
            raise ModelConfigError(f"`decode` {self.decode!r} is not one of {', '.join(DECODE_PATHS)}. "
                                   "Fix: `decode` tree")

    def to_dict(self) -> dict:
        return asdict(self)


def _checked_fields(config) -> None:
    """config_checks.check_fields, raising ModelConfigError (the class these configs document)."""
    try:
        check_fields(config)
    except ConfigError as e:
        raise ModelConfigError(*e.args) from None
