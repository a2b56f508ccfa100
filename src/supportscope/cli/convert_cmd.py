"""`supportscope convert-gguf FILE --out DIR`: a .gguf model as a safetensors directory (for vLLM)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def convert_gguf(gguf: Path = typer.Argument(..., help="The .gguf model file."),
                 out: Path = typer.Option(..., "--out", help="Folder for config.json, model.safetensors and the "
                                          "tokenizer files.")) -> None:
    """Convert a .gguf model into a safetensors directory (float32), e.g. for --backend vllm."""
    from supportscope.models.convert import gguf_to_safetensors

    with Console(stderr=True).status(f"converting {gguf}"):
        gguf_to_safetensors(gguf, out)
    Console().print(f"wrote {out}", markup=False)
