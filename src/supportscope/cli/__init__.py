"""Command-line interface (typer): `supportscope analyze ...`."""
