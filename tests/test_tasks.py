"""The tasks layer for real: JSON Lines problems checked with math-verify, reasoning-gym
generators checked with their own scorers, answer extraction, describe() for manifests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest

from supportscope.tasks import SUCCESS, Problem, Task, extract_answer, load_task

PROBLEMS = [
    {"id": 1, "prompt": "What is 2 + 3?", "answer": "5", "level": 1},
    {"id": "half", "prompt": "What is 1 divided by 2?", "answer": "\\frac{1}{2}"},
    {"id": "root", "prompt": "Simplify $\\sqrt{12}$.", "answer": "2\\sqrt{3}"},
    {"id": 4, "prompt": "What is 1/4 as a decimal?", "answer": 0.25},
]


@pytest.fixture
def math_file(tmp_path):
    path = tmp_path / "math.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in PROBLEMS) + "\n\n", encoding="utf-8")
    return path


@pytest.fixture
def math_task(math_file):
    return load_task(str(math_file))


def by_id(task):
    return {p.id: p for p in task.problems()}


# ---------------------------------------------------------------- JSON Lines + math-verify

def test_jsonl_problems(math_task, math_file):
    probs = math_task.problems()
    assert isinstance(math_task, Task)
    assert [p.id for p in probs] == ["1", "half", "root", "4"]
    assert [p.answer for p in probs] == ["5", "\\frac{1}{2}", "2\\sqrt{3}", "0.25"]
    assert probs[0].prompt == "What is 2 + 3?"
    assert probs[0].meta == {"level": 1} and probs[1].meta == {}
    assert math_task.name == "math" and math_task.spec == str(math_file)
    assert math_task.problems() == probs  # deterministic
    assert len(set(probs)) == 4  # problems are hashable


CORRECT = [
    ("1", "2 + 3 = 5, so the answer is \\boxed{5}."),
    ("1", "The answer is \\boxed{5}"),
    ("1", "Adding, we get ... = 5"),
    ("1", "The final answer is $5$. I hope it is correct."),
    ("half", "\\boxed{0.5}"),
    ("half", "The answer is $\\boxed{\\frac12}$"),
    ("half", "So we get $\\frac{2}{4}$, i.e. \\boxed{\\dfrac{1}{2}}"),
    ("half", "1/2"),
    ("root", "\\boxed{2\\sqrt{3}}"),
    ("root", "$\\sqrt{12}$ simplifies to $\\boxed{2\\sqrt3}$"),
    ("root", "\\boxed{\\sqrt{12}}"),
    ("4", "\\boxed{\\frac{1}{4}}"),
    ("4", "It is 0.25"),
]
WRONG = [
    ("1", "The answer is \\boxed{6}"),
    ("1", "2 + 3 = 6"),
    ("1", "The answer is \\boxed{5}".replace("5", "-5")),
    ("half", "\\boxed{0.49}"),
    ("half", "\\boxed{\\frac{1}{3}}"),
    ("root", "\\boxed{3\\sqrt{2}}"),
    ("root", "\\boxed{2\\sqrt{2}}"),
    ("4", "\\boxed{4}"),
    ("1", ""),
    ("1", "I do not know."),
]


@pytest.mark.parametrize("pid,completion", CORRECT)
def test_jsonl_correct_completions_verify_to_1(math_task, pid, completion):
    assert math_task.verify(by_id(math_task)[pid], completion) == 1.0


@pytest.mark.parametrize("pid,completion", WRONG)
def test_jsonl_wrong_completions_verify_to_0(math_task, pid, completion):
    assert math_task.verify(by_id(math_task)[pid], completion) == 0.0


def test_jsonl_verify_off_the_main_thread(math_task):
    """math-verify's signal-based timeout only works on the main thread; we must not fail."""
    probs = by_id(math_task)
    cases = CORRECT[:6] + WRONG[:4]
    expected = [1.0] * 6 + [0.0] * 4
    got: list[list] = [[], [], []]
    errors: list = []

    def work(out: list):  # each thread its own list: extends of a shared one would interleave
        try:
            out.extend(math_task.verify(probs[pid], c) for pid, c in cases)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(got[i],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert got == [expected] * 3


def test_jsonl_gold_is_parsed_once_per_problem(math_task, monkeypatch):
    import math_verify

    calls = []
    real = math_verify.parse

    def counting(text, *a, **k):
        calls.append(text)
        return real(text, *a, **k)

    monkeypatch.setattr(math_verify, "parse", counting)
    p = by_id(math_task)["root"]
    for _ in range(3):
        assert math_task.verify(p, "\\boxed{\\sqrt{12}}") == 1.0
    assert calls == ["\\boxed{2\\sqrt{3}}"] + ["\\boxed{\\sqrt{12}}"] * 3  # gold parsed once
    calls.clear()
    assert math_task.verify(p, "\\boxed{7}") == 0.0
    assert calls == ["\\boxed{7}"]  # the gold came from the cache


def test_jsonl_limit_and_canonical_spec(math_file):
    task = load_task(str(math_file), limit=2)
    assert [p.id for p in task.problems()] == ["1", "half"]
    assert task.spec == f"{math_file}?limit=2"
    again = load_task(task.spec)
    assert again.problems() == task.problems() and again.spec == task.spec
    assert [p.id for p in load_task(task.spec, limit=1).problems()] == ["1"]
    prefixed = load_task(f"jsonl:{math_file}")
    assert prefixed.problems() == load_task(str(math_file)).problems()
    assert load_task(str(math_file), limit=100).problems() == prefixed.problems()


def test_jsonl_describe_is_json(math_task):
    d = math_task.describe()
    round_trip = json.loads(json.dumps(d))
    assert round_trip["spec"] == math_task.spec
    assert round_trip["size"] == 4 and round_trip["seed"] == 0
    assert re.fullmatch(r"[0-9a-f]{64}", round_trip["file_sha256"])
    assert round_trip["versions"]["math-verify"] != "not installed"
    assert round_trip["verifier"]["library"] == "math-verify"


# ---------------------------------------------------------------- reasoning-gym

def wrong_number(answer: str) -> str:
    """A different whole number that does not contain ``answer`` (no substring partial credit)."""
    return str(int(answer) + 1)


@pytest.mark.parametrize("name", ["basic_arithmetic", "chain_sum"])
def test_rg_deterministic_unique_and_self_consistent(name):
    task = load_task(f"rg:{name}", limit=5, seed=0)
    probs = task.problems()
    again = load_task(f"rg:{name}", limit=5, seed=0).problems()
    assert len(probs) == 5
    assert [(p.id, p.prompt, p.answer) for p in probs] == [(p.id, p.prompt, p.answer) for p in again]
    assert [p.id for p in probs] == [f"{name}-0-{i}" for i in range(5)]
    assert len({p.id for p in probs}) == 5
    assert isinstance(task, Task) and task.name == name
    for p in probs:
        assert p.prompt.startswith(p.meta["question"].rstrip())
        assert "<answer>" in p.prompt  # the instruction
        gold = p.answer
        for completion in (
            f"Let me work it out step by step.\n<answer>{gold}</answer>",
            f"<answer> {gold} </answer>",
            f"Working...\nSo the result is\n{gold}",
            f"Thinking.\nThe answer is {gold}.",
            f"reasoning...\n<answer>{gold}",  # stopped on the </answer> stop string
            f"The result is \\boxed{{{gold}}}",
        ):
            assert task.verify(p, completion) == 1.0, completion
            assert task.verify(p, completion) >= SUCCESS
        bad = wrong_number(gold)
        assert task.verify(p, f"<answer>{bad}</answer>") == 0.0
        assert task.verify(p, f"Steps...\n{bad}") == 0.0
        assert task.verify(p, "") == 0.0


def test_rg_seed_and_size():
    a = load_task("rg:chain_sum", limit=5, seed=0).problems()
    b = load_task("rg:chain_sum", limit=5, seed=1).problems()
    assert [p.prompt for p in a] != [p.prompt for p in b]
    assert b[0].id == "chain_sum-1-0"
    # Problem i depends only on (seed, i): the first 5 of 8 are the same 5.
    c = load_task("rg:chain_sum", limit=8, seed=0).problems()
    assert [p.prompt for p in c[:5]] == [p.prompt for p in a]
    assert len(load_task("rg:chain_sum").problems()) == 50  # default size


def test_rg_config_options_and_canonical_spec():
    task = load_task("rg:chain_sum?min_terms=2&max_terms=2&max_digits=2", limit=5, seed=3)
    assert all(p.meta["metadata"]["num_terms"] == 2 for p in task.problems())
    assert task.spec == "rg:chain_sum?min_terms=2&max_terms=2&max_digits=2&seed=3&size=5"
    again = load_task(task.spec)
    assert [(p.id, p.prompt) for p in again.problems()] == [(p.id, p.prompt) for p in task.problems()]
    ops = load_task("rg:basic_arithmetic?operators=+,-", limit=5)
    assert all("*" not in p.meta["question"] and "/" not in p.meta["question"] for p in ops.problems())
    assert [p.prompt for p in load_task(ops.spec).problems()] == [p.prompt for p in ops.problems()]
    d = json.loads(json.dumps(task.describe()))
    assert d["size"] == 5 and d["seed"] == 3 and d["spec"] == task.spec
    assert d["generator_config"]["min_terms"] == 2
    assert d["versions"]["reasoning_gym"] != "not installed"
    assert "<answer>" in d["instruction"]


def test_rg_countdown_loads_and_scores():
    task = load_task("rg:countdown", limit=3, seed=0)
    probs = task.problems()
    assert [p.id for p in probs] == [f"countdown-0-{i}" for i in range(3)]
    p = probs[0]
    assert task.verify(p, f"I combine them.\n<answer>{p.answer}</answer>") == 1.0
    reward = task.verify(p, "<answer>1 + 1</answer>")
    assert 0.0 <= reward < SUCCESS  # countdown gives small partial credit for a wrong expression
    json.dumps(task.describe())


def test_rg_verify_rejects_foreign_problem():
    task = load_task("rg:chain_sum", limit=2)
    with pytest.raises(ValueError, match="not one of"):
        task.verify(Problem("chain_sum-0-99", "q", "1", {}), "<answer>1</answer>")


def test_rg_works_offline():
    """Generate and score basic_arithmetic, chain_sum and countdown with sockets disabled."""
    code = """
import socket
def _no_net(*a, **k):
    raise OSError("network disabled in this test")
socket.socket.connect = _no_net
socket.socket.connect_ex = _no_net
socket.create_connection = _no_net
socket.getaddrinfo = _no_net
from supportscope.tasks import load_task
for name in ("basic_arithmetic", "chain_sum", "countdown"):
    t = load_task("rg:" + name, limit=3)
    p = t.problems()[0]
    assert t.verify(p, "<answer>" + p.answer + "</answer>") == 1.0, name
print("ok")
"""
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "NO_PROXY": "*",
           "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


# ---------------------------------------------------------------- answer extraction

@pytest.mark.parametrize("completion,expected", [
    ("work\n<answer>-4</answer>", "-4"),
    ("<answer>1</answer> no wait <answer> 2 </answer>", "2"),
    ("thinking <answer>7", "7"),
    ("<answer>1</answer>\n<answer>", "1"),
    ("so \\boxed{\\frac{1}{2}} it is", "\\frac{1}{2}"),
    ("\\boxed{a{b}c}", "a{b}c"),
    ("a\n\nThe answer is 5.\n", "5"),
    ("**Final Answer:** 12", "12"),
    ("Answer: **3**", "3"),
    ("1 + 2\n= 3", "3"),
    ("6*(98 - 54) - 34 - 66", "6*(98 - 54) - 34 - 66"),
    ("", None),
    ("  \n ", None),
])
def test_extract_answer(completion, expected):
    assert extract_answer(completion) == expected
