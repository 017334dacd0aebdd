"""The PyTorch flavor: TorchScript and torch.export artifacts, classifiers and regressors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelport
from modelport.errors import ConfigurationError, FlavorError, MissingExtraError, ModelFileError
from modelport.flavors import detect_flavor
from modelport.flavors.conformance import check_flavor
from modelport.flavors.pytorch import PYTORCH, TorchModel, TorchPredictor, import_torch
from modelport.model_files import read_model_file
from modelport.registry import Registry

torch = pytest.importorskip("torch")


def mlp(outputs: int, *, softmax: bool = False, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, outputs)]
    if softmax:
        layers.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*layers)


def forward(net: Any, x: np.ndarray) -> np.ndarray:
    """The reference: the module itself, on float32 rows, without the flavor."""
    with torch.no_grad():
        return np.asarray(net(torch.from_numpy(x.astype(np.float32))).numpy())


def softmax(logits: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(torch.softmax(torch.from_numpy(logits), dim=1).numpy())


@pytest.fixture(autouse=True)
def _threads() -> Iterator[None]:
    """Loading sets torch's process-wide thread count; other tests keep theirs."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("fmt", ["export", "torchscript"])
def test_classifier_from_logits(fmt, xy_multiclass, tmp_path):
    x, _ = xy_multiclass
    net = mlp(3)
    classes = ["high", "low", "mid"]
    proba = softmax(forward(net, x))
    model = TorchModel(net, classes=classes, outputs="logits", example=x[:4], format=fmt)
    predictor = check_flavor(
        PYTORCH,
        model,
        x,
        tmp_path,
        expected_predict=np.array(classes)[proba.argmax(axis=1)],
        expected_proba=proba,
    )
    assert predictor.task == "classification"
    assert predictor.classes == classes
    np.testing.assert_allclose(predictor.predict_proba(x).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("fmt", ["export", "torchscript"])
def test_regressor(fmt, xy_regression, tmp_path):
    x, _ = xy_regression
    net = mlp(1)
    model = TorchModel(net, example=x[:4], format=fmt)
    predictor = check_flavor(PYTORCH, model, x, tmp_path, expected_predict=forward(net, x)[:, 0])
    assert predictor.task == "regression"
    assert predictor.classes is None
    assert predictor.predict_proba(x) is None


def test_outputs_that_are_probabilities_are_used_as_they_are(xy, tmp_path):
    x, _ = xy
    net = mlp(2, softmax=True)
    proba = forward(net, x)
    model = TorchModel(net, classes=[0, 1], outputs="probabilities", example=x[:4])
    predictor = check_flavor(
        PYTORCH, model, x, tmp_path, expected_predict=proba.argmax(axis=1), expected_proba=proba
    )
    assert predictor.classes == [0, 1]


def test_one_logit_for_two_classes_goes_through_a_sigmoid(xy, tmp_path):
    x, _ = xy
    net = mlp(1)
    with torch.no_grad():
        positive = torch.sigmoid(torch.from_numpy(forward(net, x))).numpy()[:, 0]
    expected = np.column_stack([1.0 - positive, positive])
    model = TorchModel(net, classes=["no", "yes"], outputs="logits", example=x[:4])
    predictor = check_flavor(
        PYTORCH,
        model,
        x,
        tmp_path,
        expected_predict=np.where(positive > 0.5, "yes", "no"),
        expected_proba=expected,
    )
    assert predictor.task == "classification"


def test_plain_module_script_module_and_program_are_detected_and_saved(xy_regression, tmp_path):
    x, _ = xy_regression
    net = mlp(1)
    expected = forward(net, x)[:, 0]
    scripted = torch.jit.script(net)
    program = torch.export.export(
        net,
        (torch.from_numpy(x[:4].astype(np.float32)),),
        dynamic_shapes=({0: torch.export.Dim("batch")},),
    )
    for name, obj, fmt in [
        ("module", net, "torchscript"),  # no example input: scripted
        ("script", scripted, "torchscript"),
        ("program", program, "export"),
    ]:
        assert detect_flavor(obj).name == "pytorch", name
        directory = tmp_path / name
        directory.mkdir()
        options = PYTORCH.save(obj, directory)
        assert options["serialization"] == fmt, name
        np.testing.assert_allclose(
            PYTORCH.load(directory, options, trusted=False).predict(x), expected, rtol=1e-6
        )


def test_batches_give_what_one_pass_gives(xy_multiclass, tmp_path):
    x, _ = xy_multiclass
    net = mlp(3)
    loaded = {}
    for size in (1000, 7):
        directory = tmp_path / str(size)
        directory.mkdir()
        model = TorchModel(
            net, classes=["a", "b", "c"], outputs="logits", example=x[:4], batch_size=size
        )
        loaded[size] = PYTORCH.load(directory, PYTORCH.save(model, directory), trusted=False)
    small, whole = loaded[7], loaded[1000]
    assert isinstance(small, TorchPredictor) and small.batch_size == 7
    np.testing.assert_array_equal(small.predict(x), whole.predict(x))
    np.testing.assert_allclose(small.predict_proba(x), whole.predict_proba(x), rtol=1e-6)


def test_a_program_with_a_fixed_batch_size_is_fed_padded_chunks(xy_regression, tmp_path):
    x, _ = xy_regression
    net = mlp(1)
    program = torch.export.export(net, (torch.from_numpy(x[:5].astype(np.float32)),))
    options = PYTORCH.save(program, tmp_path)
    predictor = PYTORCH.load(tmp_path, options, trusted=False)
    assert isinstance(predictor, TorchPredictor) and predictor.fixed_batch == 5
    rows = x[:13]  # two full chunks of 5 and one of 3, padded
    np.testing.assert_allclose(predictor.predict(rows), forward(net, rows)[:, 0], rtol=1e-6)


def test_bad_input_is_refused_clearly(xy, tmp_path):
    x, _ = xy
    options = PYTORCH.save(TorchModel(mlp(1), example=x[:4]), tmp_path)
    predictor = PYTORCH.load(tmp_path, options, trusted=False)
    with pytest.raises(FlavorError, match="takes 4 features; the batch has 3"):
        predictor.predict(x[:, :3])
    with pytest.raises(FlavorError, match="2-D batch"):
        predictor.predict(x[0])
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(d="text")
    with pytest.raises(FlavorError, match="columns d are not"):
        predictor.predict(frame)
    with pytest.raises(FlavorError, match="numbers, not an array"):
        predictor.predict(np.array([["a", "b", "c", "d"]]))


def test_wrong_declarations_are_refused_at_save(xy, tmp_path):
    x, _ = xy
    with pytest.raises(ConfigurationError, match="must say what its output scores are"):
        TorchModel(mlp(3), classes=["a", "b", "c"])
    with pytest.raises(ConfigurationError, match="no classes were given"):
        TorchModel(mlp(3), outputs="logits")
    with pytest.raises(ConfigurationError, match="batch_size"):
        TorchModel(mlp(3), batch_size=0)
    logits = TorchModel(mlp(3), classes=["a", "b", "c"], outputs="probabilities", example=x[:4])
    with pytest.raises(FlavorError, match="not probabilities") as info:
        PYTORCH.save(logits, tmp_path)
    assert "outputs='logits'" in (info.value.hint or "")
    too_few = TorchModel(mlp(3), classes=["a", "b"], outputs="logits", example=x[:4])
    with pytest.raises(FlavorError, match="3 scores per row for 2 classes"):
        PYTORCH.save(too_few, tmp_path)
    with pytest.raises(FlavorError, match="needs example input"):
        PYTORCH.save(mlp(1), tmp_path, serialization="export")
    with pytest.raises(FlavorError, match="serialization='gguf'"):
        PYTORCH.save(mlp(1), tmp_path, serialization="gguf")


def test_saving_leaves_the_module_in_its_training_mode(xy, tmp_path):
    x, _ = xy
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
    net.train()
    options = PYTORCH.save(TorchModel(net, example=x[:4]), tmp_path)
    assert net.training
    predictor = PYTORCH.load(tmp_path, options, trusted=False)
    # saved in eval mode: dropout off, so two calls agree and match the eval module
    np.testing.assert_array_equal(predictor.predict(x), predictor.predict(x))
    np.testing.assert_allclose(predictor.predict(x), forward(net.eval(), x)[:, 0], rtol=1e-6)


def test_threads_come_from_the_recorded_options(xy, tmp_path):
    x, _ = xy
    options = PYTORCH.save(TorchModel(mlp(1), example=x[:4], num_threads=2), tmp_path)
    torch.set_num_threads(1)
    PYTORCH.load(tmp_path, options, trusted=False)
    assert torch.get_num_threads() == 2
    PYTORCH.load(tmp_path, {**options, "num_threads": None}, trusted=False)
    assert torch.get_num_threads() == 2  # None leaves torch's setting alone


def test_close_releases_the_module(tmp_path):
    predictor = PYTORCH.load(tmp_path, PYTORCH.save(mlp(1), tmp_path), trusted=False)
    assert isinstance(predictor, TorchPredictor)
    predictor.close()
    assert predictor.module is None


def test_missing_torch_names_the_extra(monkeypatch, tmp_path):
    net = mlp(1)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError, match=r"modelport\[torch\]"):
        import_torch()
    assert PYTORCH.handles(net)  # deciding needs no import
    with pytest.raises(MissingExtraError, match=r"modelport\[torch\]"):
        PYTORCH.save(net, tmp_path)
    with pytest.raises(MissingExtraError, match=r"modelport\[torch\]"):
        PYTORCH.load(tmp_path, {"serialization": "export", "file": "model.pt2"}, trusted=False)


def test_registered_from_a_live_module_with_a_sample(registry: Registry):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", "c", "d"])
    net = mlp(3)
    classes = ["x", "y", "z"]
    version = modelport.register(
        TorchModel(net, classes=classes, outputs="logits"), "net", sample=frame, registry=registry
    )
    assert version.flavor == "pytorch"
    # the sample gave the example input, so the module was exported with torch.export
    assert version.flavor_options["serialization"] == "export"
    assert version.flavor_options["n_features"] == 4
    assert version.signature is not None
    assert version.signature["outputs"]["classes"] == classes
    loaded = modelport.load("net:1", registry=registry)
    records = frame.head(5).to_dict("records")
    expected = np.array(classes)[forward(net, frame.head(5).to_numpy()).argmax(axis=1)]
    assert list(loaded.predict(records)) == list(expected)


def test_read_from_torchscript_and_export_files(xy_regression, tmp_path):
    x, _ = xy_regression
    net = mlp(1)
    expected = forward(net, x)[:, 0]
    torch.jit.save(torch.jit.script(net), str(tmp_path / "model.pt"))
    example = (torch.from_numpy(x[:4].astype(np.float32)),)
    dynamic = ({0: torch.export.Dim("batch")},)
    program = torch.export.export(net, example, dynamic_shapes=dynamic)
    torch.export.save(program, str(tmp_path / "model.pt2"))
    for name in ("model.pt", "model.pt2"):
        model = read_model_file(tmp_path / name)
        assert detect_flavor(model).name == "pytorch"
        directory = tmp_path / f"saved-{name}"
        directory.mkdir()
        predictor = PYTORCH.load(directory, PYTORCH.save(model, directory), trusted=False)
        np.testing.assert_allclose(predictor.predict(x), expected, rtol=1e-6)


def test_a_pickled_module_is_not_taken_for_torchscript(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(mlp(1), str(path))  # a pickle of the Python module, not TorchScript
    with pytest.raises(ModelFileError, match="TorchScript") as info:
        read_model_file(path)
    assert "torch.jit.save" in (info.value.hint or "")


def test_a_frame_is_fed_in_its_column_order(xy_regression, tmp_path):
    x, _ = xy_regression
    net = mlp(1)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).astype({"b": "float32"})
    frame["c"] = frame["c"].round().astype(int)  # an integer column becomes float32 too
    expected = forward(net, frame.to_numpy(dtype=np.float64))[:, 0]
    model = TorchModel(net, example=frame.head(4))
    predictor = check_flavor(PYTORCH, model, frame, tmp_path, expected_predict=expected)
    swapped = frame[["d", "c", "b", "a"]]  # what the signature's order protects against
    assert not np.allclose(predictor.predict(swapped), expected)


def test_a_sample_with_text_columns_is_refused_naming_them(registry: Registry):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2], "city": ["x", "y", "z"]})
    torch.manual_seed(0)
    with pytest.raises(FlavorError, match="columns city are not"):
        modelport.register(torch.nn.Linear(3, 1), "text", sample=frame, registry=registry)
    assert registry.list_models() == []
