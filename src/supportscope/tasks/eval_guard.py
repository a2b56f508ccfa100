"""Model output never runs as code: a guard around verifiers that ``eval`` their answer.

Some reasoning-gym verifiers pass the model's answer to Python's ``eval`` (``string_insertion``,
``spiral_matrix``, ``binary_matrix``, ``n_queens``: ``eval(answer)`` to read a Python list) or to
sympy's ``parse_expr`` / ``sympify``, which turn the text into Python code and ``eval`` it
(``countdown``, ``puzzle24``, the algebra generators). An answer such as
``__import__('os').system('...')`` would run with the user's rights while a run is sampled.

:func:`guarded` is the context :class:`~supportscope.tasks.rgym.ReasoningGymTask` scores in: for
the calling thread only, ``builtins.eval``, ``exec`` and ``compile`` check the code they are
given before it runs, and refuse it (:class:`UnsafeCode`, which the verifier sees as a malformed
answer: no credit) unless it is an expression made only of

* constants, names, operators, comparisons, subscripts and list/tuple/set/dict displays;
* calls of a plain name, never of an attribute (``x.f()``), and never of :data:`DENIED_NAMES`
  (the builtins that reach files, imports or code -- ``open``, ``__import__``, ``getattr``,
  ``eval``, ... -- and sympy's ``lambdify``, ``preview`` and the plotting functions);
* attributes and names that do not start with ``_`` (no ``().__class__.__subclasses__()``);
* powers whose exponent has no power and no number above :data:`MAX_EXPONENT` (``9**9**9`` would
  hang the sampler).

Text becomes code only through ``compile`` or ``eval``/``exec`` of a string, so all such code is
checked: what sympy builds from an answer and compiles (``evaluate=False``), and any nested
``sympify`` of a string. ``exec`` of a string is allowed for ``from sympy import *`` only (how
``parse_expr`` builds its namespace); code objects (a module's code run by a lazy import, or one
``compile`` checked) run as they are.
What a verifier does without ``eval`` (string comparison, regexes, arithmetic on parsed numbers) is
untouched: on the reference answers of every reasoning-gym generator the guarded and unguarded
rewards are equal (``tests/test_eval_guard.py``).

JSONL tasks are checked by math-verify, whose expression path (``parse_expr``) only ever sees text
matched by its regex of digits, dots, spaces and arithmetic operators, so it is not wrapped.
"""

from __future__ import annotations

import ast
import builtins
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DENIED_NAMES", "MAX_EXPONENT", "UnsafeCode", "check_code", "guarded"]

#: Names an evaluated answer may not use (called or not): code, files, imports, introspection,
#: interaction, and sympy functions that write files, start processes or build functions from text.
DENIED_NAMES = frozenset({
    "eval", "exec", "compile", "open", "input", "breakpoint", "help", "exit", "quit", "getattr", "setattr",
    "delattr", "hasattr", "globals", "locals", "vars", "dir", "type", "object", "super", "memoryview",
    "classmethod", "staticmethod", "property", "__import__", "__builtins__",
    # loops a short answer could make run for hours (``sum(range(10**12))``)
    "range", "sum", "map", "filter", "zip", "iter", "next", "enumerate", "reversed", "sorted", "all", "any",
    "pow", "bytes", "bytearray",
    "lambdify", "preview", "plot", "plot3d", "plot_implicit", "plot_parametric", "textplot", "init_printing",
    "init_session", "var", "python", "print_gtk", "print_tree", "pprint", "interactive_traversal", "symarray",
})
#: Largest number allowed inside an exponent.
MAX_EXPONENT = 10_000

_ALLOWED_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
    ast.Call, ast.keyword, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.IfExp, ast.Starred,
)

_state = threading.local()
_real = {"eval": builtins.eval, "exec": builtins.exec, "compile": builtins.compile}
_lock = threading.Lock()
_depth = 0  # threads inside guarded(); builtins are patched while > 0


class UnsafeCode(Exception):
    """Code built from a model's answer that the guard refused to run."""


def _too_big(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Pow):
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, (int, float, complex)) \
                and not isinstance(sub.value, bool) and abs(sub.value) > MAX_EXPONENT:
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.strip().lstrip("-").isdigit() \
                and len(sub.value.strip()) > len(str(MAX_EXPONENT)):
            return True  # sympy's Integer('99999999')
    return False


def check_code(tree: ast.AST) -> None:
    """Raise :class:`UnsafeCode` unless ``tree`` (an ``ast.Expression``) is made only of the nodes
    the module docstring lists."""
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsafeCode(f"{type(node).__name__} is not allowed in evaluated answers")
        if isinstance(node, ast.Name) and (node.id.startswith("_") or node.id in DENIED_NAMES):
            raise UnsafeCode(f"name {node.id!r} is not allowed in evaluated answers")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise UnsafeCode(f"attribute {node.attr!r} is not allowed in evaluated answers")
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name):
            raise UnsafeCode("only calls of a plain name are allowed in evaluated answers")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and _too_big(node.right):
            raise UnsafeCode("an exponent this large is not allowed in evaluated answers")


def _parse(source: Any, mode: str) -> ast.AST:
    if isinstance(source, ast.AST):
        return source
    if isinstance(source, (bytes, bytearray)):
        source = bytes(source).decode("utf-8", "replace")
    if not isinstance(source, str):
        raise UnsafeCode(f"{type(source).__name__} cannot be evaluated here")
    return ast.parse(source.strip(), mode=mode)  # a SyntaxError, as eval would raise


def _active() -> bool:
    return getattr(_state, "on", False)


def _eval(source: Any, globals: Any = None, locals: Any = None, /) -> Any:
    if not _active():
        return _real["eval"](source, globals, locals)
    if isinstance(source, types.CodeType):  # compiled from a file (an import) or by _compile, checked
        return _real["eval"](source, globals, locals)
    tree = _parse(source, "eval")
    check_code(tree)
    return _real["eval"](_real["compile"](tree, "<answer>", "eval"), globals, locals)


def _exec(source: Any, globals: Any = None, locals: Any = None, /, **kw: Any) -> Any:
    if not _active() or isinstance(source, types.CodeType):  # a lazy import runs a module's code object
        return _real["exec"](source, globals, locals, **kw)
    tree = _parse(source, "exec")
    ok = all(isinstance(s, ast.ImportFrom) and s.module == "sympy" and [a.name for a in s.names] == ["*"]
             for s in getattr(tree, "body", [None]))
    if not ok:
        raise UnsafeCode("exec is not allowed while an answer is verified")
    return _real["exec"](source, globals, locals, **kw)


def _compile(source: Any, filename: Any, mode: str, *args: Any, **kw: Any) -> Any:
    if not _active():
        return _real["compile"](source, filename, mode, *args, **kw)
    flags = args[0] if args else kw.get("flags", 0)
    if flags & ast.PyCF_ONLY_AST:  # ast.parse: builds a tree, runs nothing
        return _real["compile"](source, filename, mode, *args, **kw)
    if mode != "eval":
        raise UnsafeCode(f"compile(mode={mode!r}) is not allowed while an answer is verified")
    check_code(_parse(source, "eval"))
    return _real["compile"](source, filename, mode, *args, **kw)


@contextmanager
def guarded() -> Iterator[None]:
    """Within this context, code that ``eval``/``exec``/``compile`` receive in this thread is
    checked first (:func:`check_code`); other threads are not affected."""
    global _depth
    if _active():
        yield
        return
    with _lock:
        if _depth == 0:
            builtins.eval, builtins.exec, builtins.compile = _eval, _exec, _compile
        _depth += 1
    _state.on = True
    try:
        yield
    finally:
        _state.on = False
        with _lock:
            _depth -= 1
            if _depth == 0:
                builtins.eval, builtins.exec, builtins.compile = _real["eval"], _real["exec"], _real["compile"]
