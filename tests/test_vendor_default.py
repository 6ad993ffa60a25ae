"""The vendor SDK's own people counter as the default (issue 30, part 4): ``default="sdk"`` / ``--default sdk``.

Here, in this process, ``lunavl`` is the workbench's stand-in: ``default="sdk"`` must refuse it, saying what is
missing, and never run the workbench's model in its place. Against a package tree that implements the SDK's
interface and a core (``helpers.vendor_sdk``), put first on ``PYTHONPATH`` of subprocesses as the real-package
tests do, estimate, compare, the server, the Explorer and the command line run the SDK's estimator and name it,
the settings reach the SDK, and each missing piece or misconfiguration fails with a message naming it.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from helpers.service_packages import service_env
from helpers.spots import SPOTS
from helpers.vendor_sdk import CORE_VERSION, write_sdk_data, write_vendor_sdk
from workbench import Workbench
from workbench.cli import main
from workbench.host import SdkOptions, VendorSdkMissing

BROKER = "peopleCountEstimator"
LABEL = f"default (vendor SDK {CORE_VERSION})"
RUN_SCRIPT = Path(__file__).resolve().parent / "helpers" / "vendor_default_run.py"
# What the test core counts in each image of ``spots_dataset``: its white pixels.
WHITE_PIXELS = [len(white) for white, _ in SPOTS.values()]


# -- in this process: the stand-in answers lunavl ---------------------------------------------------------


def test_the_stand_in_is_never_taken_for_the_vendor_sdk(tmp_path):
    with pytest.raises(VendorSdkMissing) as raised:
        Workbench(tmp_path, [], default="sdk", sdk_options={"data_path": str(tmp_path)})
    message = str(raised.value)
    assert "stand-in" in message and "no real lunavl is importable" in message, message
    assert "FaceEngine" in message and "PYTHONPATH" in message, "the message says what to install and where"


def test_the_command_line_says_what_is_missing_instead_of_running_the_model(tmp_path, capsys):
    status = main(["plugins", "--plugins-dir", str(tmp_path), "--active", "", "--default", "sdk"])
    printed = capsys.readouterr()
    assert status == 2 and "no real lunavl is importable" in printed.err, printed
    assert "estimators:" not in printed.out, "no host ran"


@pytest.mark.parametrize(("arguments", "message"), [
    ({"sdk_options": {"data_path": "/sdk/data"}}, "they need default='sdk'"),
    ({"default": "sdk", "default_model": "mine.onnx"}, "pass one of them"),
    ({"default": "sdk", "default_estimators": {}}, "default='sdk' with sdk_options .* or default_estimators"),
    ({"default": "skd"}, "did you mean 'sdk'"),
])
def test_settings_that_contradict_each_other_are_refused(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        Workbench(tmp_path, [], **arguments)


def test_sdk_flags_without_the_sdk_default_are_refused(tmp_path, capsys):
    status = main(["plugins", "--plugins-dir", str(tmp_path), "--active", "", "--sdk-data", str(tmp_path)])
    assert status == 2 and "--sdk-* flags" in capsys.readouterr().err


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"data": "/sdk/data"}, TypeError, "no setting 'data'; the settings are data_path"),
    ({"device_id": -1}, ValueError, "device_id"),
    ({"run_concurrently": "no"}, TypeError, "run_concurrently must be True or False"),
    ({"license": 3}, TypeError, "license must be a path"),
])
def test_sdk_options_name_the_bad_setting(options, error, message):
    with pytest.raises(error, match=message):
        SdkOptions.of(options)


def test_sdk_options_keep_paths_as_text_and_the_sdk_defaults(tmp_path):
    options = SdkOptions.of({"data_path": tmp_path})
    assert options.data_path == str(tmp_path) and options.estimator_type == "DEFAULT" and options.run_concurrently
    assert SdkOptions.of(None) == SdkOptions() and SdkOptions.of(options) is options


def test_the_model_default_is_named_with_its_model(tmp_path):
    with Workbench(tmp_path, []) as wb:
        assert wb.estimator_labels == {BROKER: "default (wbcount)"}
        assert "default (wbcount)" in repr(wb) and "default (wbcount)" in wb._repr_html_()
        assert wb.estimator_label(BROKER, "SomePlugin") == "SomePlugin"
    with Workbench(tmp_path, [], default_estimators={BROKER: lambda config: None}) as wb:
        assert wb.estimator_labels == {BROKER: "default"}, "a factory the workbench did not make has no provider"


# -- against a package tree with the SDK's interface and a core, in subprocesses ------------------------------


@pytest.fixture(scope="module")
def vendor_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vendor_sdk(tmp_path_factory.mktemp("vendor-site-packages"))


@pytest.fixture
def sdk_data(tmp_path: Path) -> Path:
    return write_sdk_data(tmp_path / "fsdk" / "data")


def _run(command: list[str], root: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = service_env(root)
    env.pop("FSDK_ROOT", None)
    return subprocess.run([sys.executable, *command], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


# A replacement plugin written against the service's packages that counts nobody: compared with the default.
ZERO_PLUGIN = '''
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import PeopleCount


class _Nobody:
    count = 0

    class points:
        @staticmethod
        def getPoints():
            return []


class ZeroEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        return [PeopleCount(_Nobody()) for _ in images]


class ZeroPlugin(EstimatorReplacementPlugin):
    estimatorBrokerName = "peopleCountEstimator"

    def createReplacementEstimator(self):
        return ZeroEstimator()
'''


@pytest.mark.slow  # a host, compare and the server in a subprocess
def test_estimate_compare_explorer_and_server_run_the_vendor_estimator(tmp_path, vendor_root, sdk_data, spots_dataset):
    plugins = tmp_path / "plugins"
    (plugins / "zero").mkdir(parents=True)
    (plugins / "zero" / "__init__.py").write_text("")
    (plugins / "zero" / "plugin.py").write_text(ZERO_PLUGIN)
    licence = tmp_path / "vendor.lic"
    licence.write_text("licence\n")
    out = tmp_path / "out"
    out.mkdir()
    done = _run([str(RUN_SCRIPT), "run", str(plugins), str(spots_dataset.root), str(sdk_data), str(licence), str(out)],
                vendor_root, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert done.stdout.rstrip().endswith("all checks passed"), done.stdout


@pytest.mark.slow  # hosts in a subprocess
def test_each_misconfiguration_fails_naming_the_setting(tmp_path, vendor_root, sdk_data):
    done = _run([str(RUN_SCRIPT), "errors", str(sdk_data)], vendor_root, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert done.stdout.rstrip().endswith("all checks passed"), done.stdout


_BUILD_SDK_DEFAULT = (
    "import sys; from workbench import Workbench; from workbench.host import VendorSdkMissing\n"
    "try:\n"
    "    Workbench('.', [], default='sdk', sdk_options={'data_path': sys.argv[1]})\n"
    "except VendorSdkMissing as error:\n"
    "    print(error)\n"
)


@pytest.mark.slow  # a subprocess
def test_a_lunavl_without_its_core_is_refused(tmp_path, sdk_data):
    root = write_vendor_sdk(tmp_path / "site", core=False)
    done = _run(["-c", _BUILD_SDK_DEFAULT, str(sdk_data)], root, tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "its C++ core is not" in done.stdout and "'FaceEngine'" in done.stdout, done.stdout


@pytest.mark.slow  # a subprocess
def test_a_lunavl_without_the_engine_is_not_the_vendor_sdk(tmp_path, service_root, sdk_data):
    """The real-package tests' tree has the service's types but no engine: not an SDK to run."""
    done = _run(["-c", _BUILD_SDK_DEFAULT, str(sdk_data)], service_root, tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "has no module lunavl.sdk.faceengine" in done.stdout and "not the vendor's full SDK" in done.stdout, (
        done.stdout)


@pytest.mark.slow  # the command line in subprocesses
def test_compare_and_plugins_commands_take_the_sdk_flags(tmp_path, vendor_root, sdk_data, spots_dataset):
    (tmp_path / "plugins").mkdir()
    sdk = ["--default", "sdk", "--sdk-data", str(sdk_data), "--sdk-estimator-type", "PEOPLE_COUNT_V2",
           "--sdk-device-id", "2", "--no-sdk-run-concurrently", "--plugins-dir", "plugins", "--active", ""]
    done = _run(["-m", "workbench.cli", "compare", str(spots_dataset.root), "--out", "report", "--no-progress", *sdk],
                vendor_root, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-4000:]
    assert LABEL in done.stdout, "the printed summary names the default's provider"
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["labels"] == {"default": LABEL}
    assert [row["pred_count"] for row in document["per_image"]] == WHITE_PIXELS, document["per_image"]
    listed = _run(["-m", "workbench.cli", "plugins", *sdk], vendor_root, tmp_path)
    assert listed.returncode == 0, listed.stderr[-4000:]
    assert f"estimators: {{'{BROKER}': '{LABEL}'}}" in listed.stdout, listed.stdout


@pytest.mark.slow  # the command line in a subprocess
def test_compare_without_the_sdk_data_folder_is_a_usage_error(tmp_path, vendor_root, spots_dataset):
    (tmp_path / "plugins").mkdir()
    done = _run(["-m", "workbench.cli", "compare", str(spots_dataset.root), "--out", "report", "--no-progress",
                 "--plugins-dir", "plugins", "--active", "", "--default", "sdk"], vendor_root, tmp_path)
    assert done.returncode == 2, done.stderr[-4000:]
    assert "the vendor SDK needs its data folder: pass sdk_options data_path= (--sdk-data DIR)" in done.stderr
    assert not (tmp_path / "report").exists()


@pytest.mark.slow  # the command line in a subprocess
def test_serve_command_serves_the_vendor_estimator(tmp_path, vendor_root, sdk_data):
    (tmp_path / "plugins").mkdir()
    env = service_env(vendor_root)
    env.pop("FSDK_ROOT", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", "0", "--plugins-dir", "plugins", "--active", "",
         "--default", "sdk", "--sdk-data", str(sdk_data)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("serving on "), line + server.stderr.read()
        url = line.split()[-1].rstrip("/")
        with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
            assert json.loads(response.read())["estimator_labels"] == {BROKER: LABEL}
        request = urllib.request.Request(f"{url}/estimators/{BROKER}/estimate", data=_png_with_spots(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert (answer["count"], answer["estimator"]) == (2, f"vendor SDK {CORE_VERSION}"), answer
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.stderr.read()


def _png_with_spots() -> bytes:
    import io

    from PIL import Image

    picture = Image.new("RGB", (40, 30))
    picture.putpixel((5, 5), (1, 0, 0))
    picture.putpixel((20, 12), (1, 0, 0))
    body = io.BytesIO()
    picture.save(body, format="PNG")
    return body.getvalue()
