"""The ``code`` verifier: run a completion's program against the gold tests, in a limited subprocess.

This is the one place supportscope executes model output, and only when the user passes
``--allow-exec`` (``supportscope grade`` prints a warning line first). The program is the last
fenced code block of the completion (```` ```python ... ``` ```` or a bare fence; the whole
completion when it has none) followed by the problem's gold ``answer``, read as test code
(``assert add(2, 2) == 4``). It is written to a fresh temporary folder and run as
``python -I prog.py`` there, with

* a wall-clock limit (``timeout_s``; the whole process group is killed when it runs out) and a CPU
  limit (``RLIMIT_CPU``, the next whole second),
* an address-space limit (``RLIMIT_AS``, ``memory_mb``), a file-size limit (``RLIMIT_FSIZE``, 16 MiB),
  no core files, a new session (so children die with it), stdin closed, stdout/stderr discarded,
* an environment holding only ``PATH``, ``LANG`` and ``PYTHONHASHSEED``.

Exit status 0 is a success; anything else (a failed assert, an exception, a limit) is 0.
This is a limit, not a sandbox: the program can still read the user's files and reach the
network. Run untrusted generations in a container or VM.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile

__all__ = ["FILE_LIMIT_BYTES", "CodeVerifier", "extract_code", "run_limited"]

#: Largest file the program may write.
FILE_LIMIT_BYTES = 16 * 2**20

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(completion: str) -> str:
    """The last fenced code block of ``completion`` (a ``python``/``py`` one preferred), or the whole text."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(completion or "")]
    python = [body for lang, body in blocks if lang in ("python", "py", "python3")]
    if python:
        return python[-1]
    if blocks:
        return blocks[-1][1]
    return completion or ""


def _limits(timeout_s: float, memory_mb: int):
    """The ``preexec_fn`` that sets the child's limits (runs in the child, before exec)."""
    cpu = max(1, int(timeout_s) + 1)
    mem = int(memory_mb) * 2**20

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT_BYTES, FILE_LIMIT_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_limited(program: str, timeout_s: float = 10.0, memory_mb: int = 1024) -> int:
    """Run ``program`` (Python source) under the limits of the module docstring; its exit status
    (negative: killed by that signal; -9 also when the wall-clock limit ran out)."""
    with tempfile.TemporaryDirectory(prefix="supportscope-code-") as folder:
        path = os.path.join(folder, "prog.py")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(program)
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        proc = subprocess.Popen([sys.executable, "-I", path], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_limits(timeout_s, memory_mb))  # noqa: PLW1509 - setrlimit only
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this call started (start_new_session)
            except ProcessLookupError:
                pass
            proc.wait()
            return -signal.SIGKILL
        finally:
            if proc.poll() is None:  # an interrupt while waiting: leave no child behind
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()


class CodeVerifier:
    """1 when the completion's code followed by the gold tests exits with status 0 (see the module docstring)."""

    name = "code"

    def __init__(self, timeout_s: float = 10.0, memory_mb: int = 1024) -> None:
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)

    def extract(self, completion: str) -> str | None:
        return None  # the program is not an answer to show

    def check(self, problem_id: str, answer: str, completion: str) -> int:
        if not isinstance(completion, str) or not completion.strip():
            return 0
        program = extract_code(completion).rstrip() + "\n\n" + answer.strip() + "\n"
        return int(run_limited(program, self.timeout_s, self.memory_mb) == 0)

    def config(self) -> dict:
        return {"runs": "python -I, last fenced code block + the gold answer as tests",
                "timeout_s": self.timeout_s, "memory_mb": self.memory_mb, "file_limit_bytes": FILE_LIMIT_BYTES}
