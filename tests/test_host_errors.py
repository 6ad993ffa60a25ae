"""Each bad plugin gets a message naming the plugin and what to fix; the others keep working."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.fake_estimators import default_factories, spot_image
from workbench import DuplicateActivationWarning, EstimatorContractError, UnknownEstimatorError, Workbench

GOOD = """
    from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

    class Good(BaseEventPlugin):
        eventName = "e"
        seen = []
        async def handleEvent(self, points, logger):
            Good.seen.extend(points)
"""


def start_with(plugin_folder, name: str, source: str, **kwargs):
    bad = plugin_folder.add(name, source, requirements=kwargs.pop("requirements", None))
    good = plugin_folder.add("good", GOOD)
    wb = Workbench(plugin_folder.root, [bad, good], default_estimators=default_factories()).start()
    record = wb.plugins[0]
    assert wb.plugins["Good"].status == "active", "a broken plugin never takes the others down"
    assert [d.ok for d in wb.emit("e", [1])] == [True]
    return wb, record


def test_unknown_module(plugin_folder):
    good = plugin_folder.add("good", GOOD)
    with Workbench(plugin_folder.root, ["no_such.plugin", good], default_estimators={}) as wb:
        record = wb.plugins["no_such.plugin"]
        assert record.status == "failed"
        assert "no such module" in record.error and "LUNA_REMOTE_SDK_ACTIVE_PLUGINS" in record.error
        assert wb.plugins["Good"].status == "active"


def test_syntax_error_names_file_and_line(plugin_folder):
    wb, record = start_with(plugin_folder, "broken", "def oops(:\n    pass\n")
    with wb:
        assert record.status == "failed"
        assert "syntax error" in record.error and "broken/plugin.py" in record.error and "line 1" in record.error


def test_missing_requirements_are_named(plugin_folder):
    wb, record = start_with(
        plugin_folder, "needy", GOOD.replace("Good", "Needy"),
        requirements="# comment\nnumpy>=1.0\nsurely-not-a-real-distribution-xyz>=1\nnumpy>=999\n",
    )
    with wb:
        assert record.status == "failed" and record.name == "needy.plugin"
        assert "surely-not-a-real-distribution-xyz>=1 (not installed)" in record.error
        assert "numpy>=999 (installed" in record.error
        assert "numpy>=1.0" not in record.error.replace("numpy>=999", "")
        assert "pip install -r" in record.error


def test_onnxruntime_builds_count_as_one_requirement(plugin_folder):
    """The service's own example lists both onnxruntime and onnxruntime-gpu; either build satisfies both."""
    wb, record = start_with(plugin_folder, "onnx_user", GOOD.replace("Good", "OnnxUser").replace("\"e\"", "\"other\""),
                            requirements="onnxruntime>=1.0\nonnxruntime-gpu>=1.0\n")
    with wb:
        assert record.status == "active"


def test_import_error_of_a_dependency(plugin_folder):
    wb, record = start_with(plugin_folder, "imports_missing", "import surely_not_installed_module\n")
    with wb:
        assert "'surely_not_installed_module'" in record.error and "requirements.txt" in record.error


def test_exception_at_import(plugin_folder):
    wb, record = start_with(plugin_folder, "raises", "raise RuntimeError('boom at import')\n")
    with wb:
        assert "RuntimeError: boom at import" in record.error and "raises/plugin.py" in record.error


def test_module_with_only_abstract_classes(plugin_folder):
    wb, record = start_with(plugin_folder, "abstract", """
        from abc import abstractmethod
        from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

        class Half(BaseEventPlugin):
            eventName = "e"
            @abstractmethod
            async def flush(self, point): ...
            async def handleEvent(self, points, logger): ...
    """)
    with wb:
        assert record.status == "failed"
        assert "only abstract plugin classes" in record.error and "Half leaves flush abstract" in record.error


def test_module_without_plugin_classes(plugin_folder):
    wb, record = start_with(plugin_folder, "empty", "x = 1\n")
    with wb:
        assert "defines no plugin class" in record.error


@pytest.mark.parametrize("step", ["initialize", "start"])
def test_initialize_or_start_failure(plugin_folder, step):
    wb, record = start_with(plugin_folder, "fails", f"""
        from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin

        class Fails(BaseBackgroundPlugin):
            closed = False
            async def {step}(self):
                raise ConnectionError("redis is down")
            async def close(self):
                Fails.closed = True
    """)
    with wb:
        assert record.name == "Fails" and record.status == "failed"
        assert record.error == f"{step}() failed with ConnectionError: redis is down"
        assert type(record.instance).closed, "a plugin that failed to start is closed"


def test_unknown_broker_name(plugin_folder):
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        with pytest.raises(UnknownEstimatorError, match="unknown estimator broker 'faceEstimator'; known: 'peopleCountEstimator'"):
            wb.estimate("faceEstimator", [spot_image([])])
        with pytest.raises(UnknownEstimatorError, match="unknown estimator broker"):
            wb.use("faceEstimator", "default")
        with pytest.raises(UnknownEstimatorError, match="no estimator 'Nope' for 'peopleCountEstimator'; choose one of 'default'"):
            wb.use("peopleCountEstimator", "Nope")


def test_replacement_for_unknown_broker(plugin_folder):
    wb, record = start_with(plugin_folder, "elsewhere", """
        from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin

        class Elsewhere(EstimatorReplacementPlugin):
            estimatorBrokerName = "faceDetector"
            def createReplacementEstimator(self):
                raise AssertionError("never called")
    """)
    with wb:
        assert record.status == "failed"
        assert "'faceDetector', which the workbench cannot replace; known: 'peopleCountEstimator'" in record.error


def test_estimate_batch_that_is_not_a_coroutine(plugin_folder):
    wb, record = start_with(plugin_folder, "sync_estimator", """
        from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin

        class SyncEstimator(EstimatorBase):
            def close(self): ...
            def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
                return []

        class SyncPlugin(EstimatorReplacementPlugin):
            estimatorBrokerName = "peopleCountEstimator"
            def createReplacementEstimator(self):
                return SyncEstimator()
    """)
    with wb:
        assert record.name == "SyncPlugin" and record.status == "failed"
        assert "SyncEstimator.estimateBatch is not a coroutine function" in record.error
        assert "async def estimateBatch" in record.error
        assert wb.estimators == {"peopleCountEstimator": "default"}


@pytest.mark.parametrize(
    "returned, message",
    [
        ("{'count': 1}", "returned dict; return a list with one PeopleCount per image"),
        ("[]", "returned 0 results for 1 images"),
        ("[{'count': 1}]", "returned dict objects; return lunavl.sdk.estimators.image_estimators.people_count.PeopleCount"),
    ],
)
def test_estimator_returning_the_wrong_type(plugin_folder, returned, message):
    wb, record = start_with(plugin_folder, "wrong_type", f"""
        from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin

        class WrongType(EstimatorBase):
            def close(self): ...
            async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
                return {returned}

        class WrongTypePlugin(EstimatorReplacementPlugin):
            estimatorBrokerName = "peopleCountEstimator"
            def createReplacementEstimator(self):
                return WrongType()
    """)
    with wb:
        assert record.status == "active"
        with pytest.raises(EstimatorContractError) as caught:
            wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])])
        assert str(caught.value) == f"plugin 'WrongTypePlugin': WrongType.estimateBatch {message}" + (
            ", one per image" if "PeopleCount" in message and "list" not in message else ""
        )
        wb.use("peopleCountEstimator", "default")
        assert wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])])[0].count == 1


def test_create_replacement_estimator_that_raises(plugin_folder):
    wb, record = start_with(plugin_folder, "no_model", """
        from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin

        class NoModel(EstimatorReplacementPlugin):
            estimatorBrokerName = "peopleCountEstimator"
            def createReplacementEstimator(self):
                raise FileNotFoundError("model.onnx not found")
    """)
    with wb:
        assert record.status == "failed" and record.error == "FileNotFoundError: model.onnx not found"
        assert wb.estimator_choices == {"peopleCountEstimator": ["default"]}


def test_bad_images_are_named(plugin_folder):
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        with pytest.raises(ValueError, match="image 1: .*"):
            wb.estimate("peopleCountEstimator", [spot_image([]), b"not an image"])
        with pytest.raises(TypeError, match="wrap one image as \\[image\\]"):
            wb.estimate("peopleCountEstimator", spot_image([]))
        with pytest.raises(ValueError, match="T3"):
            wb.estimate("peopleCountEstimator", [spot_image([])], targets="T3")


def test_host_arguments_are_checked(tmp_path):
    # A missing folder matters to the plugins it was to hold (with none active it need not exist: issue 32).
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Workbench(tmp_path / "missing", ["my_plugin.plugin"])
    with pytest.raises(ValueError, match="workers must be a whole number >= 1"):
        Workbench(tmp_path, workers=0)
    with pytest.raises(ValueError, match="device must be one of 'cpu', 'gpu'"):
        Workbench(tmp_path, device="tpu")


def test_class_imported_into_another_active_module_is_activated_once(plugin_folder):
    first = plugin_folder.add("first", GOOD)
    second = plugin_folder.add("second", "from first.plugin import Good\n")
    with pytest.warns(DuplicateActivationWarning, match="active module 'second.plugin' imports it from 'first.plugin'"):
        wb = Workbench(plugin_folder.root, [first, second], default_estimators={}).start()
    with wb:
        assert [p.name for p in wb.plugins] == ["Good"]
        wb.emit("e", ["point"])
        assert type(wb.plugins["Good"].instance).seen == ["point"]


def test_same_file_imported_under_two_names_is_activated_once(plugin_folder, monkeypatch):
    """The pitfall the service warns about: `from plugins.x.plugin import ...` makes a second copy of a class."""
    first = plugin_folder.add("first", GOOD)
    second = plugin_folder.add("second", "from plugins.first.plugin import Good\n")
    import sys

    # The checkout's own plugins/ is a regular package (shipped as workbench._examples), and `python -m pytest`
    # puts the checkout on sys.path: it would answer `import plugins` before the test's folder, a namespace.
    checkout = Path(__file__).resolve().parents[1]
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != checkout])
    for name in [n for n in sys.modules if n == "plugins" or n.startswith("plugins.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(plugin_folder.root.parent))
    with pytest.warns(DuplicateActivationWarning, match="a second copy of the same file"):
        wb = Workbench(plugin_folder.root, [first, second], default_estimators={}).start()
    with wb:
        assert [p.name for p in wb.plugins] == ["Good"]
    for name in [n for n in sys.modules if n == "plugins" or n.startswith("plugins.")]:
        monkeypatch.delitem(sys.modules, name)
