"""Bad task specs and bad JSON Lines files: one-line errors that name the file, line and fix;
the registry of task factories."""

from __future__ import annotations

import json

import pytest

from supportscope.errors import InputError
from supportscope.tasks import Problem, TaskSpecError, load_task, register, registered_prefixes
from supportscope.tasks import registry

GOOD = json.dumps({"id": "a", "prompt": "1+1?", "answer": "2"})


def write(tmp_path, text, name="p.jsonl"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def err(spec, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        load_task(str(spec), **kw)
    e = info.value
    assert "\n" not in str(e) and "Fix: " in str(e)
    return e


@pytest.mark.parametrize("lines,line,words", [
    ([GOOD, '{"id": "b", "prompt": "x", "answer": "1"'], 2, "invalid JSON"),
    ([GOOD, "", '{"id": "b", "prompt": "x"}'], 3, "'answer'"),
    ([GOOD, '{"prompt": "x"}'], 2, "'id', 'answer'"),
    ([GOOD, GOOD], 2, "duplicate id 'a' (first on line 1)"),
    ([GOOD, json.dumps({"id": 1, "prompt": "x", "answer": "1"}),
      json.dumps({"id": "1", "prompt": "y", "answer": "2"})], 3, "duplicate id '1'"),
    ([GOOD, "[1, 2]"], 2, "expected a JSON object"),
    ([GOOD, json.dumps({"id": None, "prompt": "x", "answer": "1"})], 2, "'id'"),
    ([GOOD, json.dumps({"id": 2.5, "prompt": "x", "answer": "1"})], 2, "'id'"),
    ([GOOD, json.dumps({"id": "b", "prompt": "", "answer": "1"})], 2, "'prompt'"),
    ([GOOD, json.dumps({"id": "b", "prompt": "x", "answer": ["1"]})], 2, "'answer'"),
])
def test_jsonl_errors_name_the_line(tmp_path, lines, line, words):
    path = write(tmp_path, "\n".join(lines) + "\n")
    e = err(path)
    assert e.line == line
    assert str(e).startswith(f"{path}:{line}: ")
    assert words in str(e)


def test_jsonl_missing_file(tmp_path):
    e = err(tmp_path / "nope.jsonl")
    assert "file not found" in str(e) and e.line is None


@pytest.mark.parametrize("text", ["", "\n  \n\n"])
def test_jsonl_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    assert "no problems" in str(err(path))


def test_jsonl_bad_limit(tmp_path):
    path = write(tmp_path, GOOD + "\n")
    with pytest.raises(ValueError):
        load_task(str(path), limit=0)
    with pytest.raises(TaskSpecError, match="only option is"):
        load_task(f"{path}?size=3")


def test_not_a_jsonl_file(tmp_path):
    path = write(tmp_path, GOOD + "\n", name="p.json")
    e = err(path)
    assert isinstance(e, TaskSpecError) and f"jsonl:{path}" in str(e)
    assert load_task(f"jsonl:{path}").problems()[0].id == "a"


def test_unknown_generator_lists_close_names():
    with pytest.raises(ValueError) as info:
        load_task("rg:chain_sums", limit=2)
    assert isinstance(info.value, InputError)
    assert "unknown reasoning-gym generator 'chain_sums'" in str(info.value)
    assert "chain_sum" in str(info.value).split("Fix:")[1]
    far = err("rg:zzzzqqqq")
    assert "e.g." in str(far)


@pytest.mark.parametrize("spec,words", [
    ("rg:chain_sum?min_term=2", "did you mean min_terms"),
    ("rg:chain_sum?min_terms=0", "min_terms must be positive"),
    ("rg:chain_sum?min_terms", "not key=value"),
    ("rg:chain_sum?seed=-1", "seed must be"),
    ("rg:chain_sum?size=0", "size must be"),
    ("rgg:chain_sum", "did you mean rg:"),
    ("nosuchkind:x", "unknown task kind 'nosuchkind:'"),
    ("just-words", "not a task spec"),
    ("", "empty task spec"),
])
def test_bad_specs(spec, words):
    e = err(spec)
    assert isinstance(e, ValueError)
    assert words in str(e)


def test_bad_limit_or_seed_arguments():
    with pytest.raises(TaskSpecError, match="limit"):
        load_task("rg:chain_sum", limit=0)
    with pytest.raises(TaskSpecError, match="seed"):
        load_task("rg:chain_sum", seed=-3)


class _ToyTask:
    def __init__(self, rest, limit, seed):
        self.name = "toy"
        self.spec = f"toy:{rest}"
        self._n = limit or 3
        self.seed = seed

    def problems(self):
        return [Problem(f"toy-{i}", f"say {i}", str(i), {}) for i in range(self._n)]

    def verify(self, problem, completion):
        return float(completion.strip() == problem.answer)

    def describe(self):
        return {"spec": self.spec, "size": self._n, "seed": self.seed}


@pytest.fixture
def toy_prefix():
    yield "toy"
    if "toy" in registered_prefixes():
        registry.unregister("toy")


def test_register_a_factory(toy_prefix):
    register("toy", lambda rest, *, limit=None, seed=0: _ToyTask(rest, limit, seed))
    assert "toy" in registered_prefixes() and {"rg", "jsonl"} <= set(registered_prefixes())
    task = load_task("toy:anything", limit=2, seed=7)
    assert task.spec == "toy:anything" and len(task.problems()) == 2 and task.seed == 7
    assert task.verify(task.problems()[1], " 1 ") == 1.0
    with pytest.raises(ValueError, match="already registered"):
        register("toy", lambda rest, **k: None)
    register("toy", lambda rest, *, limit=None, seed=0: _ToyTask("x", limit, seed), replace=True)
    assert load_task("toy:y").spec == "toy:x"
    for bad in ("T", "x", "has space", "1abc"):
        with pytest.raises(ValueError):
            register(bad, lambda rest, **k: None)
