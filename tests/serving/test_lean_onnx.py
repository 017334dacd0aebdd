"""A server of ONNX models only starts and predicts without scikit-learn, scipy or skops.

The check runs in a fresh interpreter (this test process has imported everything): it
builds the app, runs its lifespan through Starlette's TestClient, serves one prediction
and reports what ``sys.modules`` holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelport
from modelport.settings import Settings

skl2onnx = pytest.importorskip("skl2onnx")

#: what a server of ONNX models has no use for; matplotlib is never on the serve path
NOT_LOADED = ("sklearn", "scipy", "skops", "matplotlib")
SOURCE = str(Path(modelport.__file__).parents[1])

SERVE_ONE = """
import json, sys, warnings
with warnings.catch_warnings():  # Starlette prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

app = create_app(ServeConfig(refs=("forest",), auth=False), settings=Settings(home=sys.argv[1]))
with TestClient(app) as client:
    reply = client.post("/v1/models/forest:predict", json={"instances": json.loads(sys.argv[2])})
print(json.dumps({"status": reply.status_code, "body": reply.json(),
                  "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def test_an_onnx_only_server_loads_no_scikit_learn_nor_scipy(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    home = tmp_path / "home"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    proto = skl2onnx.to_onnx(forest, x[:1], options={"zipmap": False})
    modelport.register(proto, "forest", sample=x, settings=Settings(home=home))

    rows = x[:5].tolist()
    done = subprocess.run(
        [sys.executable, "-c", SERVE_ONE, str(home), json.dumps(rows)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE, "MODELPORT_HOME": str(home)},
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 200, report["body"]
    assert report["body"]["predictions"] == forest.predict(x[:5]).tolist()
    assert "onnxruntime" in report["modules"]  # the probe sees the model's own library
    assert sorted(set(NOT_LOADED) & set(report["modules"])) == []
