"""tasks.eval_guard: verifiers that eval() a model's answer never run it as code, and score every
reasoning-gym reference answer exactly as without the guard."""

from __future__ import annotations

import ast
import builtins
import threading
import warnings

import pytest

pytest.importorskip("reasoning_gym")

from supportscope.tasks.eval_guard import UnsafeCode, check_code, guarded
from supportscope.tasks.rgym import ReasoningGymTask

# Generators whose score_answer eval()s the answer (string_insertion, spiral_matrix, binary_matrix,
# n_queens) or hands it to sympy's parse_expr (countdown, puzzle24, the algebra ones).
EVALUATING = ["string_insertion", "spiral_matrix", "binary_matrix", "n_queens", "countdown", "puzzle24",
              "simple_integration", "polynomial_multiplication"]


def _payloads(marker: str) -> list[str]:
    m = repr(marker)
    return [
        f"__import__('pathlib').Path({m}).write_text('x')",
        f"open({m}, 'w').write('x')",
        f"exec(\"open({m}, 'w')\")",
        f"eval(\"open({m}, 'w')\")",
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', {m}])",
        f"getattr(__builtins__, 'open')({m}, 'w')",
        f"sympify(\"open({m}, 'w')\")",
        f"S(\"__import__('os').system('touch {marker}')\")",
        f"lambdify(x, \"open({m}, 'w')\")(1)",
        f"__import__('os').system('touch {marker}')!",  # sympy's factorial notation makes this a call
    ]


def test_the_unguarded_scorer_runs_model_output(tmp_path):
    """Why the guard exists: reasoning-gym's string_insertion scorer runs the answer as Python."""
    marker = tmp_path / "ran"
    task = ReasoningGymTask("string_insertion", size=1, seed=0)
    entry = task._dataset[0]
    task._dataset.score_answer(f"__import__('pathlib').Path({str(marker)!r}).write_text('x')", entry)
    assert marker.exists()


@pytest.mark.parametrize("name", EVALUATING)
def test_answers_that_are_code_never_run(tmp_path, name):
    task = ReasoningGymTask(name, size=1, seed=0)
    problem = task.problems()[0]
    for payload in _payloads(str(tmp_path / "ran")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reward = task.verify(problem, f"<answer>{payload}</answer>")
        assert reward < 1.0, payload  # countdown gives 0.01 for any answer it could not use
    assert list(tmp_path.iterdir()) == []
    assert builtins.eval.__module__ == "builtins" and builtins.exec.__module__ == "builtins"


def test_huge_powers_are_refused_not_computed():
    task = ReasoningGymTask("countdown", size=1, seed=0)
    problem = task.problems()[0]
    for answer in ("9**9**9**9", "99999999**99999999", "Integer(9)**Integer(99999999)"):
        assert task.verify(problem, f"<answer>{answer}</answer>") < 1.0


def test_reference_answers_score_as_without_the_guard():
    """Every reasoning-gym generator (5 problems each): the guard changes no reward of a reference
    answer, so arithmetic, polynomials, integrals with sin/cos and Python lists still verify."""
    import reasoning_gym
    from reasoning_gym.factory import DATASETS

    checked, diffs = 0, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(DATASETS):
            try:
                ds = reasoning_gym.create_dataset(name, size=5, seed=1)
                entries = [ds[i] for i in range(5)]
            except Exception:  # noqa: BLE001 - a generator that needs a config (composite)
                continue
            for entry in entries:
                answer = None if entry.get("answer") is None else str(entry["answer"])
                try:
                    plain = ds.score_answer(answer, entry)
                except Exception as e:  # noqa: BLE001
                    plain = type(e).__name__
                try:
                    with guarded():
                        safe = ds.score_answer(answer, entry)
                except Exception as e:  # noqa: BLE001
                    safe = type(e).__name__
                checked += 1
                if plain != safe:
                    diffs.append((name, answer, plain, safe))
    assert checked >= 500 and diffs == []


@pytest.mark.parametrize("code", ["Integer (3584 )*Symbol ('x' )**Integer (5 )", "[1, 2, [3, 4]]", "'ab' + 'c'",
                                  "sin (Symbol ('x' ))**(Integer (3 )/Integer (2 ))", "-(1 < 2)"])
def test_check_code_allows_plain_expressions(code):
    check_code(ast.parse(code, mode="eval"))


@pytest.mark.parametrize("code", ["__import__('os')", "x.__class__", "open('f')", "f(x)(y)", "x.system('ls')",
                                  "lambda: 1", "[y for y in x]", "9**9**9", "2**100000", "(x := 1)",
                                  "sum(range(10**12))", "f'{x}'"])
def test_check_code_refuses_code(code):
    with pytest.raises(UnsafeCode):
        check_code(ast.parse(code, mode="eval"))


def test_guard_is_per_thread_and_restored():
    seen = {}

    def other():
        seen["other"] = eval("(lambda: 7)()")

    with guarded():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        with pytest.raises(UnsafeCode):
            eval("(lambda: 7)()")
    assert seen["other"] == 7
    assert eval("(lambda: 7)()") == 7
    assert builtins.eval.__module__ == "builtins"
