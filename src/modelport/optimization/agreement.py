"""Agreement of a smaller model with the model it replaces, as one share for every task.

Classifiers: the share of rows given the same label. Regressors: ``1 - mean |difference|
/ spread``, the spread being the standard deviation of the original's predictions, so
0.99 means errors of 1% of it on average (a constant original: 1 when the other matches
it, else 0). Pruning and distillation both report this, so ``--prune 0.99`` and
``--distill 0.99`` ask for the same closeness.
"""

from __future__ import annotations

import numpy as np


def agreement(original: np.ndarray, other: np.ndarray, classifier: bool) -> float:
    """How closely ``other``'s predictions follow ``original``'s, in [0, 1]."""
    original, other = np.asarray(original), np.asarray(other)
    if len(original) == 0:
        return 1.0
    if classifier:
        if original.dtype.kind == other.dtype.kind:
            return float(np.mean(original == other))
        # labels of another dtype (int64 for int32, str for object): compare values
        return float(np.mean([str(a) == str(b) for a, b in zip(original, other, strict=True)]))
    full = original.astype(np.float64)
    spread = float(np.std(full))
    if spread == 0:
        return 1.0 if np.allclose(full, other.astype(np.float64)) else 0.0
    return max(0.0, 1.0 - float(np.mean(np.abs(full - other.astype(np.float64)))) / spread)
