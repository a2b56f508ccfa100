"""The sections of the HTML report, in page order: one ``register`` line each (a lazy `Registry`).

page = head + nav(sections) + [<section><h2 id=NAME>TITLE</h2> fn(summary, per_problem) </section>
for NAME in SECTIONS.shown(summary)], in registration order. A section is a function
``fn(summary, per_problem) -> str``, the HTML inside its <section> (it draws its own plots), named
by a ``"package.module:function"`` string imported only when a report is built. Metadata:
``title`` (the <h2>), ``nav`` (its link in the page's navigation, default ``title``; both are HTML,
not escaped) and ``needs`` (a summary key: the section is shown only when ``summary[key]`` is not
None). Every string from the data goes through ``html_blocks._e``.

Adding a section is one module with its function plus one ``register`` line here, at its place:

    # src/supportscope/report/calibration_section.py
    def calibration_section(s: dict, per_problem) -> str:
        return f"<p>{len(s.get('passk') or [])} pass@k rows.</p>"

    # below, between "gibbs" and "kl"
    SECTIONS.register("calibration", "supportscope.report.calibration_section:calibration_section",
                      title="Calibration")

For a while only (tests, plug-ins), `extra_section` appends one and removes it again:

    with extra_section("note", lambda s, t: "<p>hi</p>", title="Note"):
        page = build_html(summary, per_problem)   # ... Config and versions, then Note
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from supportscope.registry import Registry

__all__ = ["SECTIONS", "SectionRegistry", "extra_section"]


class SectionRegistry(Registry):
    """A `Registry` of report sections: every entry has ``title``, ``nav`` and ``needs`` metadata."""

    def register(self, name: str, target: Any, *, replace: bool = False, title: str, nav: str | None = None,
                 needs: str | None = None, **meta: Any) -> None:
        """Add section ``name`` (its element id) -> ``target``, a ``(summary, per_problem) -> body`` function
        or ``"module:function"``, with its heading ``title``, link text ``nav`` (default ``title``) and the
        summary key it ``needs`` (None: always shown)."""
        super().register(name, target, replace=replace, title=title, nav=title if nav is None else nav,
                         needs=needs, **meta)

    def shown(self, summary: dict) -> list[str]:
        """[name for name in names() if needs is None or summary[needs] is not None], in page order."""
        out = []
        for name in self.names():
            needs = self.meta(name).get("needs")
            if needs is None or summary.get(needs) is not None:
                out.append(name)
        return out


SECTIONS = SectionRegistry("report section")
SECTIONS.register("verdict", "supportscope.report.sections:verdict_section", title="Verdict")
SECTIONS.register("passk", "supportscope.report.sections:passk_section", title="pass@k")
SECTIONS.register("regimes", "supportscope.report.sections:regimes_section", title="Regimes")
SECTIONS.register("per-problem", "supportscope.report.sections:per_problem_section", title="Per-problem")
SECTIONS.register("labels", "supportscope.report.sections:labels_section", title="Labels")
SECTIONS.register("support", "supportscope.report.sections:support_section", title="Support")
SECTIONS.register("gibbs", "supportscope.report.sections:gibbs_section", title="Gibbs fit")
SECTIONS.register("kl", "supportscope.report.kl_section:kl_section", title="KL account", needs="kl")
SECTIONS.register("truth", "supportscope.report.truth_section:truth_section", title="Ground truth",
                  needs="ground_truth")
SECTIONS.register("answers", "supportscope.report.sample_sections:answers_section", title="Answers",
                  needs="answers")
SECTIONS.register("provenance", "supportscope.report.sample_sections:provenance_section", title="Provenance",
                  needs="provenance")
SECTIONS.register("verifiers", "supportscope.report.sample_sections:verifier_agreement_section",
                  title="Verifier agreement", nav="Verifiers", needs="verifier_agreement")
SECTIONS.register("problems", "supportscope.report.problems_section:problems_section",
                  title="Most interesting problems", nav="Problems")
SECTIONS.register("config", "supportscope.report.sections:config_section", title="Config and versions",
                  nav="Config")


@contextmanager
def extra_section(name: str, target: Any, **meta: Any) -> Iterator[SectionRegistry]:
    """Register a new section ``name`` (last in the page) for the ``with`` block, then unregister it
    (`Registry.unregister`), also when the block fails."""
    if "replace" in meta:
        raise TypeError("extra_section adds a new section and removes it again; it cannot replace one")
    SECTIONS.register(name, target, **meta)
    try:
        yield SECTIONS
    finally:
        SECTIONS.unregister(name)
