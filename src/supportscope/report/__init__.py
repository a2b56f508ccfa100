"""Report layer: files (Parquet, CSV, JSON) and the rich terminal summary."""
