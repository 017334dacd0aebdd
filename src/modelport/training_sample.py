"""The bounded sample of training rows kept with each version.

Registration writes up to :data:`SAMPLE_ROWS` rows of the sample it was given into the
artifact directory, as Parquet (dtypes and categories survive, unlike JSON). It is inside
the artifact, so its sha256 is checked with the model's and it is encrypted at rest
like the model. ``modelport optimize`` checks the parity of a converted, quantized, pruned
or distilled model on these rows, and the edge export's test compares outputs on them.

Rows are drawn at random with a fixed seed, not the first ones: training data is often
sorted (by time, by label), and parity on the head of a sorted frame would miss whole
classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

#: the file inside the artifact directory
SAMPLE_FILE = "modelport-sample.parquet"
#: rows kept at most: enough to see a label flip of 0.1%, small next to any model file
SAMPLE_ROWS = 2_000


def write_sample(frame: pd.DataFrame, directory: Path, *, rows: int = SAMPLE_ROWS) -> Path | None:
    """Keep at most ``rows`` rows of ``frame`` in ``directory``; None when ``rows`` is 0."""
    if rows <= 0 or frame.empty:
        return None
    if len(frame) > rows:
        picked = np.sort(np.random.default_rng(0).choice(len(frame), size=rows, replace=False))
        frame = frame.iloc[picked]
    kept = frame.reset_index(drop=True)
    kept.columns = [str(c) for c in kept.columns]
    path = Path(directory) / SAMPLE_FILE
    try:
        kept.to_parquet(path, index=False)
    except (TypeError, ValueError, ImportError, pa.ArrowException):
        # Columns Parquet cannot hold (objects of mixed types) cost the version its
        # sample, not its registration: optimize then asks for --sample.
        path.unlink(missing_ok=True)
        return None
    return path


def read_sample(directory: Path) -> pd.DataFrame | None:
    """The rows kept at registration, or None for a version registered without them."""
    path = Path(directory) / SAMPLE_FILE
    if not path.is_file():
        return None
    return pd.read_parquet(path)
