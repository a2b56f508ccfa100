"""Taking the final answer out of a free-form completion, for verifiers that score an answer.

reasoning-gym's ``score_answer(answer, entry)`` compares an *answer* (``"-4"``,
``"6*(98 - 54) - 34 - 66"``), not a whole completion, and its own convention is that models
put that answer between ``<answer>`` and ``</answer>`` tags (its system prompts and
``reasoning_gym.utils.extract_answer`` take the last such tag). :func:`extract_answer` returns,
in order of preference:

1. the content of the last ``<answer>...</answer>``, stripped; an ``<answer>`` left open at the
   end (generation stopped on the stop string ``</answer>``, which is then not in the text)
   counts too;
2. else the content of the last ``\\boxed{...}`` (braces balanced), for models trained to box;
3. else the last non-empty line, stripped, without a leading ``Answer:`` / ``Final answer:`` /
   ``The answer is`` label (and then without the sentence's final full stop) and without
   ``**`` bold markers around it, and without a leading ``=``;
4. ``None`` for an empty completion.
"""

from __future__ import annotations

import re

__all__ = ["extract_answer", "last_boxed"]

_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_LABEL = re.compile(
    r"^(?P<b>\*\*)?\s*(?:the\s+)?(?:final\s+)?answer\s*(?P<b2>\*\*)?\s*(?:is\b\s*:?|[:：])\s*",
    re.IGNORECASE,
)


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) with balanced braces, else None."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None


def extract_answer(completion: str | None) -> str | None:
    """The final answer in ``completion`` (see the module docstring for the rules), or None."""
    if not completion or not completion.strip():
        return None
    tags = _TAG.findall(completion)
    last_open = None
    for m in _OPEN.finditer(completion):
        last_open = m
    if last_open is not None:
        tail = completion[last_open.end():]
        if "</answer>" not in tail.lower() and tail.strip():
            return tail.strip()  # open tag at the end, closing tag cut off
    if tags:
        return tags[-1].strip()
    boxed = last_boxed(completion)
    if boxed is not None:
        return boxed
    lines = [ln.strip() for ln in completion.splitlines() if ln.strip()]
    return _clean_line(lines[-1])


def _clean_line(line: str) -> str:
    m = _LABEL.match(line)
    if m:
        rest = line[m.end():].strip()
        if m.group("b") and not m.group("b2") and rest.startswith("**"):
            rest = rest[2:].strip()  # "**Answer:** 12": the label's closing bold marker
        if rest.endswith(".") and not rest.endswith(".."):
            rest = rest[:-1].rstrip()  # "The answer is 5." -> "5"
        line = rest or line
    if line.startswith("**") and line.endswith("**") and len(line) > 4:
        line = line[2:-2].strip()
    if line.startswith("=") and len(line) > 1:
        line = line[1:].strip()  # "= 3" under a worked sum
    return line
