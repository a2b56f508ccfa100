"""The one-file HTML report (report/html.py, report/plots/) on the bundled MATH500 example."""

from __future__ import annotations

import copy
import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from supportscope.analysis import AnalyzeConfig, compare, model_counts
from supportscope.io import load_counts
from supportscope.errors import ConfigError
from supportscope.report.html import build_html, write_html
from supportscope.report.section_registry import SECTIONS as REGISTRY
from supportscope.report.section_registry import extra_section
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
    assert "129416" in sec  # n to decide an undetermined label


def test_no_torch_import():
    code = "import sys, supportscope.report.html; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_registry_lists_the_sections_in_page_order():
    optional = ("kl", "truth", "answers", "provenance", "verifiers")  # shown only with their summary block
    assert REGISTRY.names() == [sid for sid, _ in SECTIONS[:7]] + [*optional, "problems", "config"]
    assert [(sid, REGISTRY.meta(sid)["title"]) for sid in REGISTRY.names() if sid not in optional] == SECTIONS
    assert REGISTRY.meta("kl")["needs"] == "kl" and REGISTRY.meta("truth")["needs"] == "ground_truth"


def test_registered_section_appears_at_its_place(cmp):
    """One register call adds a section (heading, body, nav link) at its place in registration order:
    last, after Config; `needs` hides it when the summary lacks the key; leaving the block removes it."""
    before = REGISTRY.names()
    frag = '<p class="probe">probe body &amp; more</p>'
    with extra_section("probe", lambda s, t: frag, title="Probe <em>section</em>", nav="Probe"):
        assert REGISTRY.names() == before + ["probe"]
        page = build_html(cmp.summary, cmp.per_problem)
        check_parses(page)
        assert f'<section>\n<h2 id="probe">Probe <em>section</em></h2>\n{frag}\n</section>\n</main>' in page
        pos = [page.index(f'<h2 id="{sid}">') for sid, _ in SECTIONS] + [page.index('<h2 id="probe">')]
        assert pos == sorted(pos)
        nav = re.search(r"<nav>(.*)</nav>", page).group(1)
        assert nav.endswith('<a href="#config">Config</a> · <a href="#probe">Probe</a>')
    assert REGISTRY.names() == before
    assert 'id="probe"' not in build_html(cmp.summary, cmp.per_problem)

    s = copy.deepcopy(cmp.summary)
    with pytest.raises(RuntimeError), extra_section("probe", lambda s, t: frag, title="Probe", needs="probe_data"):
        assert 'id="probe"' not in build_html(s, cmp.per_problem)
        s["probe_data"] = {"x": 1}
        assert '<h2 id="probe">Probe</h2>' in build_html(s, cmp.per_problem)
        raise RuntimeError("the section is removed even when the block fails")
    assert REGISTRY.names() == before
    with pytest.raises(ConfigError, match="unknown report section 'probe'"):
        REGISTRY.unregister("probe")
    with pytest.raises(ValueError, match="already registered"):
        with extra_section("verdict", lambda s, t: frag, title="Again"):
            pass
    assert REGISTRY.names() == before and REGISTRY.meta("verdict")["title"] == "Verdict"


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
    s["gibbs"]["r2"] = float("nan")
    s["gibbs"]["fit"]["p_value"] = float("nan")
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

    import supportscope.atomic as atomic  # the one atomic writer behind report.writers

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        write_html(out, {"verdict": {"sentence": "other"}}, cmp.per_problem)
    assert out.read_text(encoding="utf-8") == text  # the old report is untouched
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # and no temp file is left


# ----------------------------------------------------------------------------- KL account
N_INF, N_DPI = 7, 25
KL_COLUMNS = ("kl_k1", "kl_k1_se", "kl_k3", "kl_k3_se", "kl_full", "kl_full_se", "kl_min", "kl_efficiency",
              "dpi_violation", "singular_tokens", "singular_samples", "n_scored", "surprisal_tuned_outputs",
              "surprisal_base_outputs")


def _mean_ci(x: np.ndarray) -> dict:
    fin = x[np.isfinite(x)]
    m = float(fin.mean()) if fin.size else None
    half = None if m is None else 2 * float(fin.std(ddof=1)) / np.sqrt(fin.size)
    return {"mean": m, "lo": None if m is None else m - half, "hi": None if m is None else m + half,
            "n_infinite": int(np.isinf(x).sum()), "n_missing": int(np.isnan(x).sum())}


def kl_fixture(cmp, seed: int = 0) -> tuple[dict, pa.Table]:
    """A realistic KL account on top of the MATH500 comparison: the summary as kl_account() writes it
    and the per-problem columns appended to cmp.per_problem (some infinite KL, some violations)."""
    from supportscope.stats import bernoulli_kl, jeffreys

    rng = np.random.default_rng(seed)
    t = cmp.per_problem
    q = t.num_rows
    c0, n0, c1, n1 = (np.array(t.column(c).to_pylist(), dtype=float)
                      for c in ("c_base", "n_base", "c_tuned", "n_tuned"))
    kl_min = bernoulli_kl(jeffreys(c1, n1), jeffreys(c0, n0))
    m = np.full(q, 64)
    full = kl_min * rng.lognormal(2.5, 1.0, q) + rng.exponential(1.5, q)
    full_se = full * rng.uniform(0.05, 0.3, q)
    k1 = full + rng.normal(0, 1, q) * full_se * 2
    k1_se = full_se * 2
    k3 = np.abs(full + rng.normal(0, 1, q) * full_se)
    singular = np.zeros(q, dtype=np.int64)
    left = rng.choice(q, N_INF, replace=False)
    singular[left] = rng.integers(1, 30, N_INF)
    sing_samples = np.minimum(singular, rng.integers(1, 5, q))
    for a, b in ((full, full_se), (k1, k1_se), (k3, None)):
        a[left] = np.inf
        if b is not None:
            b[left] = np.inf
    cand = np.setdiff1d(np.flatnonzero(kl_min > 0.02), left)
    viol = rng.choice(cand, N_DPI, replace=False)
    full[viol] = kl_min[viol] * 0.2
    full_se[viol] = kl_min[viol] * 0.05
    dpi = np.isfinite(full) & (full + 2 * full_se < kl_min)
    assert dpi.sum() == N_DPI
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(full > 0, kl_min / full, np.nan)
    s_t, s_b = rng.gamma(3, 0.1, q), rng.gamma(4, 0.1, q)
    cols = {"kl_k1": k1, "kl_k1_se": k1_se, "kl_k3": k3, "kl_k3_se": full_se, "kl_full": full,
            "kl_full_se": full_se, "kl_min": kl_min, "kl_efficiency": eff, "dpi_violation": dpi,
            "singular_tokens": singular, "singular_samples": sing_samples, "n_scored": m,
            "surprisal_tuned_outputs": s_t, "surprisal_base_outputs": s_b}
    assert tuple(cols) == KL_COLUMNS
    for name, v in cols.items():
        t = t.append_column(name, pa.array(v))
    edges = np.linspace(0.0, 1.6, 41)
    ids = np.array(t.column("problem_id").to_pylist())
    fin = np.isfinite(full)
    s = copy.deepcopy(cmp.summary)
    s["kl"] = {
        "generator": s["tuned"], "scorer": s["base"], "samples_scored": int(m.sum()), "decoding_is_raw": False,
        "kl_observed": "kl_full", "k1": _mean_ci(k1), "k3": _mean_ci(k3), "kl_full": _mean_ci(full),
        "kl_min": _mean_ci(kl_min), "surprisal_tuned_outputs": _mean_ci(s_t),
        "surprisal_base_outputs": _mean_ci(s_b),
        "efficiency_aggregate": float(kl_min[fin].sum() / full[fin].sum()),
        "efficiency_median": float(np.nanmedian(eff)), "dpi_violations": int(dpi.sum()),
        "dpi_violation_ids": ids[dpi][:50].tolist(), "singular_tokens": int(singular.sum()),
        "samples_with_singular_tokens": int(sing_samples.sum()), "problems_left_support": N_INF,
        "surprisal_histogram": {"edges": edges.tolist(),
                                "tuned_outputs": np.histogram(rng.gamma(3, 0.1, 32000), edges)[0].tolist(),
                                "base_outputs": np.histogram(rng.gamma(4, 0.1, 32000), edges)[0].tolist()},
        "note": "k1/k3 compare the decoding distributions (what is sampled); kl_full compares <raw> & more",
    }
    return s, t


@pytest.fixture(scope="module")
def kl_case(cmp):
    return kl_fixture(cmp)


@pytest.fixture(scope="module")
def kl_page(kl_case) -> str:
    return build_html(*kl_case)


def section_figures(sec: str) -> list[dict]:
    p = TagChecker()
    p.feed(sec)
    return p.figures


def check_kl_section(page: str, kl: dict) -> str:
    check_parses(page)
    assert_offline(page)
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate element ids across inlined SVGs"
    pos = [page.index(f'<h2 id="{sid}">') for sid in ("gibbs", "kl", "problems")]
    assert pos == sorted(pos)
    assert '<a href="#kl">KL account</a>' in page
    sec = section(page, "kl")
    figs = section_figures(sec)
    assert len(figs) == 3 and all(f == {"figcaption": 1, "svg": 1} for f in figs), figs
    assert sec.count("<figcaption>Read: ") == 3
    labels = [html.unescape(x) for x in re.findall(r'<svg [^>]*aria-label="([^"]*)"', sec)]
    assert [x.split(";")[0] for x in labels] == [
        "KL spent per problem vs the minimum reweighting cost",
        "Base surprisal of tuned outputs vs the base's own outputs",
        "Tuned tokens with probability 0 under the base's decoding"], labels
    for unit in ("(nats, symlog scale)", "nats/token"):
        assert unit in sec
    assert '<table class="kl">' in sec
    svg = sec.split('aria-label="KL spent per problem')[1].split("</svg>")[0]
    assert "left the base" in svg and f"support: {N_INF}" in svg
    assert "data-processing violation" in svg and f"kl_min): {N_DPI}" in svg.replace("&lt;", "<")
    assert "efficiency 0.1" in svg and "efficiency 0.01" in svg and "y = x: efficiency 1" in svg
    table = sec[sec.index('<table class="kl">'):]
    assert f"∞ for {N_INF} problems (left out of the mean)" in table
    for key in ("k1", "k3", "kl_full", "kl_min", "surprisal_tuned_outputs", "surprisal_base_outputs"):
        assert f"{kl[key]['mean']:.3f} [{kl[key]['lo']:.3f}, {kl[key]['hi']:.3f}]" in table, key
    shown = kl["dpi_violation_ids"][:20]
    assert "ids: " + ", ".join(html.escape(str(i)) for i in shown) + f" (and {N_DPI - 20} more)" in table
    assert str(kl["dpi_violation_ids"][20]) not in table.split("ids: ")[1].split("</span>")[0].split(", ")
    assert f"{kl['efficiency_aggregate']:.3f}" in table
    assert (f"{kl['singular_tokens']} tokens in {kl['samples_with_singular_tokens']} samples of "
            f"{N_INF} problems") in table
    assert "kl_full compares &lt;raw&gt; &amp; more" in sec
    return sec


def test_kl_section(kl_case, kl_page):
    check_kl_section(kl_page, kl_case[0]["kl"])
    assert len(kl_page.encode("utf-8")) < 2_000_000


def test_kl_section_absent_without_kl(page):
    assert '<h2 id="kl">' not in page and 'href="#kl"' not in page


def test_kl_section_from_json(kl_case, tmp_path):
    s, t = copy.deepcopy(kl_case[0]), kl_case[1]
    s["kl"]["efficiency_median"] = float("nan")
    s["kl"]["k3"]["hi"] = float("inf")
    write_json(tmp_path / "summary.json", s)
    back = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert back["kl"]["efficiency_median"] is None and back["kl"]["k3"]["hi"] == "inf"
    page = build_html(back, t)
    sec = section(page, "kl")
    check_parses(page)
    assert_offline(page)
    figs = section_figures(sec)
    assert len(figs) == 3 and all(f == {"figcaption": 1, "svg": 1} for f in figs), figs
    assert f"support: {N_INF}" in sec and f"∞ for {N_INF} problems" in sec
    k3 = s["kl"]["k3"]
    assert f"{k3['mean']:.3f} [{k3['lo']:.3f}, ∞]" in sec
    assert "efficiency, median</td><td class=\"v\">n/a</td>" in sec


def test_kl_section_k1_observed(kl_case):
    """Without kl_full the scatter plots k1, which may be negative; the table says kl_full was not scored."""
    s, t = copy.deepcopy(kl_case[0]), kl_case[1]
    s["kl"]["kl_observed"], s["kl"]["kl_full"] = "k1", None
    t = t.set_column(t.column_names.index("kl_full"), "kl_full", pa.array(np.full(t.num_rows, np.nan)))
    page = build_html(s, t)
    check_parses(page)
    sec = section(page, "kl")
    assert len(section_figures(sec)) == 3
    assert "k1 estimate" in sec and "not scored (score with --kl)" in sec


def test_kl_section_degenerate(kl_case):
    """All-None means, no efficiency, no singular tokens, no per-problem columns: still a section."""
    s = copy.deepcopy(kl_case[0])
    q = s["n_problems"]
    for key in ("k1", "k3", "kl_full", "kl_min", "surprisal_tuned_outputs", "surprisal_base_outputs"):
        s["kl"][key] = {"mean": None, "lo": None, "hi": None, "n_infinite": q if key != "kl_min" else 0,
                        "n_missing": 0 if key != "kl_min" else q}
    s["kl"].update(efficiency_aggregate=None, efficiency_median=None, dpi_violations=0, dpi_violation_ids=[],
                   singular_tokens=0, samples_with_singular_tokens=0, problems_left_support=0)
    s["kl"].pop("note")
    s["kl"]["surprisal_histogram"]["tuned_outputs"] = [0] * 40
    s["kl"]["surprisal_histogram"]["base_outputs"] = [0] * 40
    t = kl_case[1]
    t = t.select([c for c in t.column_names if c not in ("singular_tokens", "kl_full")])
    for per_problem in (t, kl_case[1].select([c for c in t.column_names if c not in KL_COLUMNS])):
        page = build_html(s, per_problem)
        check_parses(page)
        assert_offline(page)
        sec = section(page, "kl")
        assert len(section_figures(sec)) == 0
        assert "No tuned token fell outside the base's decoding support" in sec
        assert "is not available for this summary" in sec
        assert f"n/a<span class=\"sub\">∞ for {q} problems</span>" in sec
        assert f"missing for {q}" in sec and '<table class="kl">' in sec

    # infinite KL everywhere: the scatter still draws, every problem on the top edge
    s2 = copy.deepcopy(kl_case[0])
    t2 = kl_case[1]
    inf = pa.array(np.full(t2.num_rows, np.inf))
    t2 = t2.set_column(t2.column_names.index("kl_full"), "kl_full", inf)
    page = build_html(s2, t2)
    check_parses(page)
    assert f"support: {t2.num_rows}" in section(page, "kl")


def test_kl_singular_with_finite_raw_kl(kl_case):
    """Singular tokens make k1/k3 infinite but not the raw kl_full: those problems get a ring, not the top edge."""
    s, t = kl_case
    sing = np.array(t.column("singular_tokens").to_pylist()) > 0
    full = np.array(t.column("kl_full").to_pylist(), dtype=float)
    full[sing] = 5.0
    t = t.set_column(t.column_names.index("kl_full"), "kl_full", pa.array(full))
    sec = section(build_html(s, t), "kl")
    assert f"raw kl_full finite): {N_INF}" in sec and "support: 0" in sec
    assert "a black ring marks a problem with singular tokens" in sec
