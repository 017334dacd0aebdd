"""Reading small tables (samples, feedback files) named by path: Parquet, CSV or JSON Lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from modelport.errors import DataError

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}


def table_format(path: str | Path) -> str:
    suffix = Path(str(path).rstrip("/")).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if Path(path).is_dir():
        return "parquet"
    raise DataError(
        f"cannot tell the format of {path}",
        hint="name the file .parquet, .csv or .jsonl",
    )


def read_table(path: str | Path) -> pd.DataFrame:
    """The whole table at ``path`` as a DataFrame (for samples: bounded sizes)."""
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "csv":
            return pd.read_csv(path)
        return pd.read_json(path, lines=str(path).endswith(("l", "ndjson")))
    except FileNotFoundError as exc:
        raise DataError(f"no such file: {path}", hint="check the path") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {path} as {fmt}: {exc}", hint="check the file") from exc
