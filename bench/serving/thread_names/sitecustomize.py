"""Give every Python thread its name in the kernel too (bench only), so /proc shows it.

Python 3.11 names threads for Python alone; /proc/<pid>/task/<tid>/comm then says
"python" for all of them, and a CPU split per thread cannot tell the batcher from the log
writer. Put this folder first on PYTHONPATH of a server under test: every thread then
sets its kernel name (first 15 bytes) from its Python name when it starts.
"""

from __future__ import annotations

import ctypes
import threading

_PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)
_bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _named_bootstrap(self: threading.Thread) -> None:
    _libc.prctl(_PR_SET_NAME, self.name.encode()[:15], 0, 0, 0)
    _bootstrap(self)


threading.Thread._bootstrap_inner = _named_bootstrap  # type: ignore[attr-defined]
