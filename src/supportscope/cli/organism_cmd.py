"""`supportscope organism ...`: the model organism with exact ground truth (DESIGN.md section 6)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from supportscope.cli.options import with_config_options
from supportscope.organism.corpus import CorpusConfig
from supportscope.organism.pretrain import TrainConfig
from supportscope.pipeline.outputs import check_out_dir

organism_app = typer.Typer(no_args_is_help=True, help="The model organism: a tiny LM with exact success "
                           "probabilities, for checking supportscope's labels against the truth.")


@organism_app.command("pretrain")
@with_config_options(corpus=CorpusConfig, train=TrainConfig, flags={"corpus.seed": "--corpus-seed"})
def pretrain_cmd(out: Path = typer.Option(Path("organism-checkpoint"), "--out",
                                          help="Folder for the checkpoint (safetensors), configs and training log."),
                 corpus: CorpusConfig = None, train: TrainConfig = None) -> None:
    """Pretrain the organism on its synthetic corpus (seeded; minutes on 2 CPU cores)."""
    from supportscope.organism.pretrain import pretrain

    check_out_dir(out)  # a file, under a file, or read-only: refused before minutes of training
    pretrain(corpus, train, out)
    Console().print(f"wrote the organism checkpoint to {out}")
