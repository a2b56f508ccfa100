"""`supportscope demo`: the tool on the model organism, checked against exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from supportscope.cli.options import with_config_options
from supportscope.organism.demo_config import DemoConfig


@with_config_options(DemoConfig)
def demo(out: Path = typer.Option(None, "--out", help="Output folder (default out/demo, out/demo-quick "
                                  "with --quick); a rerun resumes and reuses what is there."),
         config: DemoConfig = None) -> None:
    """Post-train the organism (RL at each beta, RS-SFT, new-information SFT), sample, cross-score,
    analyse each variant against the base, and set the labels against the exact ones."""
    from supportscope.pipeline.demo import run_demo
    from supportscope.report.demo_terminal import print_demo

    out = out or Path("out/demo-quick" if config.quick else "out/demo")
    demo_result = run_demo(config, out)
    print_demo(demo_result, str(out))
