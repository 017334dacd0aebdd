"""skops without its scan of scikit-learn: the same trust decisions, fewer imports."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelport
from modelport.flavors._skops import all_estimator_names, is_default_estimator

SOURCE = str(Path(modelport.__file__).parents[1])


def test_one_type_at_a_time_agrees_with_the_scan_on_every_scikit_learn_class() -> None:
    listed = set(all_estimator_names())  # imports every public scikit-learn module
    classes = {
        f"{cls.__module__}.{cls.__name__}"
        for name, module in list(sys.modules.items())
        if name.startswith("sklearn.") and module is not None
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__.startswith("sklearn.")
    }
    assert len(listed) > 100 and listed <= classes  # the probe sees the whole list
    disagree = sorted(name for name in classes if is_default_estimator(name) != (name in listed))
    assert disagree == []


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.base.BaseEstimator",  # excluded by name
        "sklearn.tree._tree.Tree",  # not an estimator
        "sklearn.linear_model._logistic.LogisticRegressionX",  # no such class
        "sklearn.linear_model.LogisticRegression",  # a re-export, not the class's own name
        "os.system",
        "sklearn.__check_build.raise_build_error",
        "tests.flavors._functions.first_column",
    ],
)
def test_names_skops_does_not_trust_by_default_are_refused(name: str) -> None:
    assert not is_default_estimator(name)


def test_an_estimator_skops_trusts_is_found_without_the_scan() -> None:
    assert is_default_estimator("sklearn.linear_model._logistic.LogisticRegression")
    assert is_default_estimator("sklearn.pipeline.Pipeline")
    assert is_default_estimator(
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier"
    )


def run(code: str, tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE, "MODELPORT_HOME": str(tmp_path / "home")},
        check=True,
        cwd=tmp_path,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


SAVE = """
import json, sys
from pathlib import Path
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
x = np.arange(40.0).reshape(20, 2); y = np.arange(20) % 2
model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
"""


def test_loading_a_skops_model_does_not_scan_scikit_learn(tmp_path: Path) -> None:
    code = (
        SAVE + "import skops.io\n"  # a normal import: skops computes its real defaults
        "skops.io.dump(model, 'm.skops')\n"
        "from skops.io import _trusted_types as t\n"
        "print(json.dumps({'untrusted': skops.io.get_untrusted_types(file='m.skops'),\n"
        "    'ufuncs': t.SCIPY_UFUNC_TYPE_NAMES + t.NUMPY_UFUNC_TYPE_NAMES}))\n"
    )
    reference = run(code, tmp_path)
    code = (
        SAVE + "import threading, sklearn.utils, sklearn.utils.discovery\n"
        "from modelport.flavors._skops import skops_io\n"
        "threads = [threading.Thread(target=skops_io) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "restored = sklearn.utils.all_estimators is sklearn.utils.discovery.all_estimators\n"
        "from modelport.flavors.sklearn import SKLEARN\n"
        "options = SKLEARN.save(model, Path('.'))\n"
        "predictor = SKLEARN.load(Path('.'), options, trusted=False)\n"
        "scanned = [m for m in ('pytest', 'sklearn.gaussian_process') if m in sys.modules]\n"
        "same = (predictor.predict(x) == model.predict(x)).all()\n"
        # any other skops user in the process still sees skops' real defaults
        "import skops.io\n"
        "untrusted = skops.io.get_untrusted_types(file='model.skops')\n"
        "plain = skops.io.load('model.skops', trusted=untrusted).predict(x)\n"
        "plain = bool((plain == model.predict(x)).all())\n"
        "from skops.io import _trusted_types as t\n"
        "ufuncs = t.SCIPY_UFUNC_TYPE_NAMES + t.NUMPY_UFUNC_TYPE_NAMES\n"
        "print(json.dumps({'scanned': scanned, 'recorded': options['trusted_types'],\n"
        "    'ufuncs': ufuncs, 'restored': restored,\n"
        "    'untrusted': untrusted, 'same': bool(same), 'plain': plain}))\n"
    )
    ours = run(code, tmp_path)
    assert ours["scanned"] == []  # before the other user's call
    assert ours["restored"] is True  # threads importing at once leave no stub behind
    assert ours["same"] is True
    assert ours["recorded"] == reference["untrusted"]
    assert ours["untrusted"] == reference["untrusted"]
    assert ours["plain"] is True
    assert len(reference["ufuncs"]) > 300
    assert ours["ufuncs"] == reference["ufuncs"]  # skops' other defaults, built as skops does


def test_skops_imported_elsewhere_first_still_loads(xy: tuple, tmp_path: Path) -> None:
    importlib.import_module("skops.io")  # whichever import came first, loading works
    from sklearn.linear_model import LogisticRegression

    from modelport.flavors.sklearn import SKLEARN

    x, y = xy
    model = LogisticRegression().fit(x, y)
    options = SKLEARN.save(model, tmp_path)
    assert (SKLEARN.load(tmp_path, options, trusted=False).predict(x) == model.predict(x)).all()


def test_the_indexed_whichmodule_names_every_ufunc_as_skops_does() -> None:
    import numpy as np
    import scipy.special
    from skops.io import _utils

    from modelport.flavors._skops import _IndexedWhichmodule

    indexed = _IndexedWhichmodule()
    indexed._real = _utils.whichmodule
    ufuncs = [
        obj
        for module in (np, scipy.special)
        for attr in dir(module)
        if isinstance(obj := getattr(module, attr), np.ufunc)
    ]
    assert len(ufuncs) > 300
    for obj in [*ufuncs, object()]:
        name = getattr(obj, "__name__", "no_such_name")
        assert indexed.whichmodule(obj, name) == _utils.whichmodule(obj, name)
