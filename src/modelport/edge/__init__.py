"""Edge bundles: a version as a folder that predicts with only NumPy and ONNX Runtime.

:func:`write_bundle` lays the folder out (``model.onnx``, ``signature.json``,
``predict.py``, ``README.md``, ``manifest.json``); :mod:`.rules` turns a signature into
the rules ``predict.py`` checks; :mod:`.runner` is the source of ``predict.py`` itself,
which imports nothing from modelport. Building the ONNX graph and proving it right is the
export service's work (:mod:`modelport.services.exporting`).
"""

from modelport.edge.bundle import RUNNER_FILE, runner_source, write_bundle
from modelport.edge.rules import rules_document

__all__ = ["RUNNER_FILE", "rules_document", "runner_source", "write_bundle"]
