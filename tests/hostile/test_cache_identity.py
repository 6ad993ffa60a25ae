"""The prediction cache's key covers everything that changes an estimator's answers (issue 31, finding 6).

Before, a plugin's identity hashed only its folder: the example plugin reads its model from
``$PEOPLE_COUNT_ONNX_MODEL`` or the checkout's ``models/``, and switching the model gave 24 of 24 cache hits with the
old model's answers; ``$WORKBENCH_ESTIMATE_MAX_PIXELS`` and ``$WORKBENCH_LARGE_IMAGES`` changed the default's answers
but not its key. Now a plugin declares what it reads beside its folder (``identityInputs()``), the default's key
holds its tiling settings, and a plugin that declares nothing is never served from a cache.
"""
from __future__ import annotations

import shutil
import warnings

import pytest

from helpers.fake_estimators import default_factories
from helpers.onnx_models import make_pool_model
from workbench import Workbench
from workbench.estimators.default import DEFAULT_ESTIMATORS
from workbench.host import UnidentifiedEstimatorError
from workbench.research import compare

BROKER = "peopleCountEstimator"
ONNX_PLUGIN = "PeopleCountOnnxPlugin"

# A plugin whose answer is an environment variable's value: what a model path, a threshold or a feature flag is.
ENV_PLUGIN = """
    import os
    from workbench.plugins import EstimatorBase, EstimatorReplacementPlugin
    from lunavl.sdk.estimators.image_estimators.people_count import PeopleCount


    class Estimation:
        class Points:
            def getPoints(self):
                return []

        def __init__(self, count):
            self.count = count
            self.points = self.Points()


    class FromEnvironment(EstimatorBase):
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            return [PeopleCount(Estimation(int(os.environ["ANSWER"]))) for _ in images]

        def close(self):
            pass


    class EnvPlugin(EstimatorReplacementPlugin):
        estimatorBrokerName = "peopleCountEstimator"

        def createReplacementEstimator(self):
            return FromEnvironment()
{declaration}
"""
DECLARED = """
        def identityInputs(self):
            return {"files": [os.environ["EXTRA_FILE"]], "environment": ["ANSWER"], "settings": {"mode": "x"}}
"""


def _uint8_models(folder):
    """Two models the example plugin takes (RGB uint8, NHWC) whose answers differ: maps at stride 4 and 8."""
    folder.mkdir(parents=True, exist_ok=True)
    return (make_pool_model(folder / "a.onnx", layout="NHWC", dtype="uint8", stride=4),
            make_pool_model(folder / "b.onnx", layout="NHWC", dtype="uint8", stride=8))


def test_switching_the_example_plugins_model_misses_the_cache(project_plugins, spots_dataset, tmp_path, monkeypatch):
    model_a, model_b = _uint8_models(tmp_path / "models")
    cache = tmp_path / "cache.sqlite"
    maps = {}
    with Workbench(project_plugins, ["people_count_onnx.plugin"], default_estimators=default_factories()) as wb:
        for model, cached in ((model_a, False), (model_b, False), (model_a, True)):
            monkeypatch.setenv("PEOPLE_COUNT_ONNX_MODEL", str(model))
            wb.reload("people_count_onnx.plugin")  # a new estimator reads the variable; the cache must see it too
            report = compare(wb, spots_dataset, [ONNX_PLUGIN], progress=False, cache=cache)
            assert report.per_image["cached"].tolist() == [cached] * 3, model.name
            maps[model.name] = {result.densityMap.shape for result in report.results[ONNX_PLUGIN]}
    assert maps == {"a.onnx": {(16, 24)}, "b.onnx": {(8, 12)}}, "each run's answers are its own model's"


def test_the_model_in_the_checkouts_models_folder_is_part_of_the_key(project_plugins, tmp_path, monkeypatch):
    """Without the variable the plugin reads ``<plugins>/../models/``, outside its folder."""
    plugins = tmp_path / "checkout" / "plugins"
    shutil.copytree(project_plugins / "people_count_onnx", plugins / "people_count_onnx",
                    ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "*.json"))
    model_a, model_b = _uint8_models(tmp_path / "built")
    in_checkout = tmp_path / "checkout" / "models" / "wbcount_uint8.onnx"
    in_checkout.parent.mkdir()
    monkeypatch.delenv("PEOPLE_COUNT_ONNX_MODEL", raising=False)
    shutil.copy(model_a, in_checkout)
    with Workbench(plugins, ["people_count_onnx.plugin"], default_estimators=default_factories()) as wb:
        first = wb.estimator_identity(BROKER, ONNX_PLUGIN)
        shutil.copy(model_b, in_checkout)
        wb.reload("people_count_onnx.plugin")  # its estimator reads the new file
        assert wb.estimator_identity(BROKER, ONNX_PLUGIN) != first
        shutil.copy(model_a, in_checkout)
        wb.reload("people_count_onnx.plugin")
        assert wb.estimator_identity(BROKER, ONNX_PLUGIN) == first, "the same bytes are the same model"


def test_a_built_estimator_keeps_the_identity_it_was_built_from(project_plugins, spots_dataset, tmp_path,
                                                                monkeypatch):
    """The served estimator read its model when it was built: a variable changed since changes the identity read
    now, not its answers, so its results must keep the key of the model it runs."""
    model_a, model_b = _uint8_models(tmp_path / "models")
    monkeypatch.setenv("PEOPLE_COUNT_ONNX_MODEL", str(model_a))
    cache = tmp_path / "cache.sqlite"
    with Workbench(project_plugins, ["people_count_onnx.plugin"], default_estimators=default_factories()) as wb:
        built_with_a = wb.estimator_identity(BROKER, ONNX_PLUGIN)
        monkeypatch.setenv("PEOPLE_COUNT_ONNX_MODEL", str(model_b))
        assert wb.estimator_identity(BROKER, ONNX_PLUGIN) == built_with_a
        report = compare(wb, spots_dataset, [ONNX_PLUGIN], progress=False, cache=cache)
        assert {result.densityMap.shape for result in report.results[ONNX_PLUGIN]} == {(16, 24)}, "model a's maps"
        wb.reload("people_count_onnx.plugin")
        assert wb.estimator_identity(BROKER, ONNX_PLUGIN) != built_with_a
        report = compare(wb, spots_dataset, [ONNX_PLUGIN], progress=False, cache=cache)
        assert not report.per_image["cached"].any()
        assert {result.densityMap.shape for result in report.results[ONNX_PLUGIN]} == {(8, 12)}, "model b's maps"


@pytest.mark.parametrize("variable, values", [
    ("WORKBENCH_ESTIMATE_MAX_PIXELS", ["1000000", "0"]),
    ("WORKBENCH_LARGE_IMAGES", ["resize"]),
])
def test_the_defaults_tiling_settings_are_part_of_its_key(plugin_folder, monkeypatch, variable, values):
    monkeypatch.delenv("WORKBENCH_ESTIMATE_MAX_PIXELS", raising=False)
    monkeypatch.delenv("WORKBENCH_LARGE_IMAGES", raising=False)
    with Workbench(plugin_folder.root, [], default_estimators=dict(DEFAULT_ESTIMATORS)) as wb:
        seen = {wb.estimator_identity(BROKER, "default")}
        for value in values:
            monkeypatch.setenv(variable, value)
            seen.add(wb.estimator_identity(BROKER, "default"))
    assert len(seen) == len(values) + 1


def test_a_plugin_that_declares_nothing_is_never_served_from_the_cache(plugin_folder, spots_dataset, tmp_path,
                                                                       monkeypatch):
    module = plugin_folder.add("env_plugin", ENV_PLUGIN.format(declaration=""))
    cache = tmp_path / "cache.sqlite"
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        with pytest.raises(UnidentifiedEstimatorError, match="define EnvPlugin.identityInputs()"):
            wb.estimator_identity(BROKER, "EnvPlugin")
        for answer in ("3", "5"):
            monkeypatch.setenv("ANSWER", answer)
            wb.reload(module)
            with pytest.warns(UserWarning, match="'EnvPlugin' cannot be identified for the prediction cache"):
                report = compare(wb, spots_dataset, ["EnvPlugin"], progress=False, cache=cache)
            assert report.per_image["pred_count"].tolist() == [int(answer)] * 3
            assert not report.per_image["cached"].any()


def test_what_a_plugin_declares_is_part_of_its_key(plugin_folder, tmp_path, monkeypatch):
    module = plugin_folder.add("env_plugin", ENV_PLUGIN.format(declaration=DECLARED))
    extra = tmp_path / "elsewhere" / "weights.bin"
    monkeypatch.setenv("EXTRA_FILE", str(extra))
    monkeypatch.setenv("ANSWER", "3")
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:

        def identity_after(change) -> str:
            change()
            wb.reload(module)  # a new estimator, built from what changed
            return wb.estimator_identity(BROKER, "EnvPlugin")

        keys = [wb.estimator_identity(BROKER, "EnvPlugin")]  # the declared file is absent
        extra.parent.mkdir()
        keys.append(identity_after(lambda: extra.write_bytes(b"v1")))
        keys.append(identity_after(lambda: extra.write_bytes(b"v2")))
        keys.append(identity_after(lambda: monkeypatch.setenv("ANSWER", "4")))
        monkeypatch.setenv("ANSWER", "3")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert identity_after(lambda: extra.write_bytes(b"v1")) == keys[1]
    assert len(set(keys)) == 4


@pytest.mark.parametrize("declaration, message", [
    ("return ['model.onnx']", "returned list; return a dict"),
    ("return {'file': []}", "returned the key(s) ['file']"),
    ("return {'files': 'model.onnx'}", "['files'] must be a list, got str"),
    ("return {'settings': {'threshold': float('nan')}}", "['settings'] must hold JSON values"),
])
def test_a_malformed_declaration_is_named(plugin_folder, declaration, message):
    source = ENV_PLUGIN.format(declaration=f"\n        def identityInputs(self):\n            {declaration}\n")
    module = plugin_folder.add("env_plugin", source)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        with pytest.raises((TypeError, ValueError), match=r"EnvPlugin\.identityInputs\(\)") as caught:
            wb.estimator_identity(BROKER, "EnvPlugin")
    assert message in str(caught.value)
