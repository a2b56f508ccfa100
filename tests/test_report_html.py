"""The one-file HTML report (report/html.py, report/plots.py) on the bundled MATH500 example."""

from __future__ import annotations

import copy
import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest

from supportscope.analysis import AnalyzeConfig, compare, model_counts
from supportscope.records import load_counts
from supportscope.report.html import build_html, write_html
from supportscope.report.writers import write_json

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "math500_qwen25_7b_base_vs_rl_counts.csv"
SECTIONS = [("verdict", "Verdict"), ("passk", "pass@k"), ("regimes", "Regimes"), ("per-problem", "Per-problem"),
            ("labels", "Labels"), ("support", "Support"), ("gibbs", "Gibbs fit"),
            ("problems", "Most interesting problems"), ("config", "Config and versions")]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@pytest.fixture(scope="module")
def cmp():
    t = load_counts([str(EXAMPLE)])
    b = model_counts(t, "qwen2.5-7b-base", ["x"])
    u = model_counts(t, "qwen2.5-7b-simplerl-zoo", ["x"])
    return compare(b, u, AnalyzeConfig(bootstrap=1000))


@pytest.fixture(scope="module")
def page(cmp) -> str:
    return build_html(cmp.summary, cmp.per_problem)


def section(page: str, sid: str) -> str:
    """The text of one <section>, from its heading to the next section."""
    start = page.index(f'<h2 id="{sid}">')
    end = page.find("<section>", start)
    return page[start:end if end >= 0 else len(page)]


class TagChecker(HTMLParser):
    """Balanced tags for every non-void element; counts figures and captions."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple]] = []
        self.errors: list[str] = []
        self.figures: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "figure":
            self.figures.append({"figcaption": 0, "svg": 0})
        elif tag in ("figcaption", "svg") and self.figures and any(t == "figure" for t, _ in self.stack):
            self.figures[-1][tag] += 1
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes {self.stack[-1] if self.stack else None}")
            return
        self.stack.pop()


def check_parses(page: str) -> TagChecker:
    p = TagChecker()
    p.feed(page)
    p.close()
    assert not p.errors, p.errors[:5]
    assert not p.stack, f"unclosed: {p.stack[:5]}"
    return p


def without_svg_namespaces(page: str) -> str:
    return re.sub(r'\s(xmlns(:\w+)?)="http://www\.w3\.org/[^"]*"', "", page)


def assert_offline(page: str) -> None:
    rest = without_svg_namespaces(page)
    for bad in ("http://", "https://", "src=", "<script", "<link", "<img", "<image", "<iframe",
                "@import", "data:", "//cdn"):
        assert bad not in rest.lower(), bad
    assert re.findall(r"url\((?!#)", rest) == []
    assert re.findall(r'href="(?!#)', rest) == []


# ----------------------------------------------------------------------------- MATH500 report
def test_sections_in_order(page):
    pos = []
    for sid, title in SECTIONS:
        m = re.search(rf'<h2 id="{re.escape(sid)}">([^<]*)</h2>', page)
        assert m, sid
        assert m.group(1) == html.escape(title), (sid, m.group(1))
        pos.append(m.start())
    assert pos == sorted(pos)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page


def test_verdict_and_reference_numbers(cmp, page):
    s = cmp.summary
    v = section(page, "verdict")
    assert html.escape(s["verdict"]["sentence"], quote=True) in v
    assert html.escape(s["verdict"]["kind"]) in v
    for x in (s["base"], s["tuned"], "500", "64"):
        assert html.escape(x) in v
    p = section(page, "passk")
    for b, t in zip((0.614, 0.734, 0.814, 0.868, 0.904, 0.929, 0.947, 0.962),
                    (0.779, 0.824, 0.857, 0.883, 0.902, 0.915, 0.923, 0.930)):
        assert f"{b:.3f} [" in p and f"{t:.3f} [" in p, (b, t)
    assert "k = <strong>15</strong>" in p
    sup = section(page, "support")
    counts = [int(x) for x in re.findall(r"<td>(\d+)</td>", sup)]
    assert counts[:4] == [462, 19, 3, 16]
    for name in ("SRR", "NDR", "NSCR", "SDS"):
        assert f"<td class=\"l\">{name}</td>" in sup
    lab = section(page, "labels")
    assert "ids: 64, 242, 295" in lab and "ids: 129, 204" in lab
    gib = section(page, "gibbs")
    assert f"{s['gibbs']['lambda']:.3f} [" in gib


def test_plots_figures_and_size(page):
    assert page.count("<svg") >= 5
    p = check_parses(page)
    assert len(p.figures) >= 5
    assert all(f["figcaption"] == 1 and f["svg"] == 1 for f in p.figures), p.figures
    assert len(page.encode("utf-8")) < 2_000_000
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate element ids across inlined SVGs"
    assert_offline(page)


def test_problems_table(cmp, page):
    sec = section(page, "problems")
    rows = re.findall(r"<tr><td class=\"l\">([^<]*)</td>", sec)
    assert len(rows) == 50
    assert rows[:5] == ["242", "64", "295", "129", "204"]  # created and lost first, largest change first
    assert "129675" in sec  # n to decide an undetermined label


def test_no_torch_import():
    code = "import sys, supportscope.report.html; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- edge cases
def test_degenerate_summaries_render(cmp, tmp_path):
    s = copy.deepcopy(cmp.summary)
    s["curves"]["crossover"] = None
    for k in list(s["gibbs"]):
        s["gibbs"][k] = None
    s["notes"] = ["K=128 is larger than <n> & samples can certify", "second note"]
    s["verdict"]["sentence"] = "<script>alert('x')</script> & more"
    s["kl"] = {"k1_mean": 0.12, "per_problem": {"k3": [0.1, float("inf")]}}
    for key in ("config", "inputs", "command", "versions"):
        s.pop(key, None)
    t = cmp.per_problem
    ids = pa.array([f"<b>{x}</b>&\"" for x in t.column("problem_id").to_pylist()])
    t = t.set_column(t.column_names.index("problem_id"), "problem_id", ids)
    page = build_html(s, t)
    check_parses(page)
    assert_offline(page)
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert '<ul class="notes">' in page and "&lt;n&gt; &amp; samples" in page
    assert "No crossover is defined" in section(page, "passk")
    assert "n/a" in section(page, "gibbs")
    assert "Not recorded in this summary" in section(page, "config")
    assert '<h2 id="kl">' in page
    assert page.count("<svg") >= 5

    s2 = copy.deepcopy(cmp.summary)
    s2["curves"]["crossover"]["k"] = None
    s2["curves"]["crossover"]["lo"] = s2["curves"]["crossover"]["hi"] = None
    s2["gibbs"]["lambda"] = None
    page2 = build_html(s2, cmp.per_problem)
    check_parses(page2)
    assert "No crossover up to k = 128" in section(page2, "passk")


def test_summary_read_back_from_json(cmp, tmp_path):
    """summary.json stores infinities as "inf" and NaN as null: the report must take that form too."""
    s = copy.deepcopy(cmp.summary)
    s["curves"]["crossover"]["hi"] = float("inf")
    s["gibbs"]["share_of_gain_explained"] = float("nan")
    write_json(tmp_path / "summary.json", s)
    back = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    page = build_html(back, cmp.per_problem)
    check_parses(page)
    assert "[9, &gt; 128]" in section(page, "passk")


def test_write_html_atomic(cmp, tmp_path, monkeypatch):
    out = tmp_path / "rep" / "report.html"
    write_html(out, cmp.summary, cmp.per_problem)
    text = out.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</html>")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]

    assert out.stat().st_mode & 0o644 == 0o644  # readable by others, like any other output file

    import supportscope.report.writers as rw

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(rw.os, "replace", boom)
    with pytest.raises(OSError):
        write_html(out, {"verdict": {"sentence": "other"}}, cmp.per_problem)
    assert out.read_text(encoding="utf-8") == text  # the old report is untouched
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # and no temp file is left
