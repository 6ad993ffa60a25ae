"""Run in a subprocess by test_vendor_default.py, with the tree of ``helpers.vendor_sdk`` first on PYTHONPATH.

``python vendor_default_run.py run PLUGINS_DIR SPOTS_DATASET SDK_DATA LICENCE OUT``: a host with ``default="sdk"``
and every setting given; checks that estimate, compare (its tables, HTML and JSON), the Explorer, the server and
the reprs run the SDK's estimator and name it, that the settings reached the SDK, and that a Ray actor's host
(``HostSpec``) gets them too.

``python vendor_default_run.py errors SDK_DATA``: each misconfiguration fails when the host is built, or (an
engine the core refuses) at the first estimate, with a message that names the setting.

Each check asserts with a message; the last line printed is ``all checks passed``.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import sys
import urllib.request
from pathlib import Path

import numpy as np

import FaceEngine
from helpers.spots import SPOTS as SPOTS_DATASET
from helpers.vendor_sdk import CORE_VERSION
from workbench import Rect, VLImage, Workbench
from workbench.host import SdkOptions
from workbench.research import Explorer, load_dataset
from workbench.research._runner_parts import HostSpec

BROKER = "peopleCountEstimator"
PROVIDER = f"vendor SDK {CORE_VERSION}"
LABEL = f"default ({PROVIDER})"
SPOTS = [(5, 7), (40, 30), (60, 10)]


def spots() -> VLImage:
    """One person for the test core at each (x, y): a red value of 1 there."""
    pixels = np.zeros((48, 64, 3), np.uint8)
    for x, y in SPOTS:
        pixels[y, x, 0] = 1
    return VLImage.fromNumpyArray(pixels)


def run(plugins: Path, dataset: Path, data: Path, licence: Path, out: Path) -> None:
    conf = out / "my_faceengine.conf"
    conf.write_text("<settings/>\n")
    options = SdkOptions(data_path=str(data), faceengine_conf=str(conf), license=str(licence),
                         estimator_type="PEOPLE_COUNT_V2", device_id=1, run_concurrently=False)
    with Workbench(plugins, ["zero.plugin"], device="gpu", default="sdk", sdk_options=options) as wb:
        assert wb.estimator_labels == {BROKER: "ZeroPlugin"}, "the replacement plugin is served, as in the service"
        wb.use(BROKER, "default")
        assert wb.estimator_labels == {BROKER: LABEL}, wb.estimator_labels
        assert LABEL in repr(wb) and LABEL in wb._repr_html_(), repr(wb)
        assert wb.estimator_label(BROKER, "ZeroPlugin") == "ZeroPlugin", "a plugin is shown by its name"

        image = spots()
        whole, cropped = wb.estimate(BROKER, [image, (image, Rect(32, 0, 32, 48))])
        assert whole.count == 3 and sorted(whole.coordinates) == sorted(SPOTS), whole.coordinates
        assert whole.estimatorName == PROVIDER and whole.elapsed is not None, whole
        assert cropped.count == 2 and all(point.x >= 32 for point in cropped.coordinates), cropped.coordinates
        [count_only] = wb.estimate(BROKER, [image], "T2")
        assert count_only.count == 3 and count_only.coordinates == (), count_only
        from lunavl.sdk.image_utils.image import VLImage as ServiceVLImage

        [from_service] = wb.estimate(BROKER, [ServiceVLImage(image.asNPArray())])
        assert from_service.count == 3, "an image built with the SDK itself is taken too"
        expected_calls = [
            ("createSettingsProvider", str(conf)), ("createSettingsProvider", str(data / "runtime.conf")),
            ("createFaceEngine", str(data), str(conf)), ("activateLicense", str(licence)),
            ("setSettingsProvider", str(conf)), ("setRuntimeSettingsProvider", str(data / "runtime.conf")),
            ("createCrowdEstimator", "CET_V2", "GPU", 1, False),
        ]
        assert FaceEngine.CALLS == expected_calls, f"the settings reach the SDK as it takes them: {FaceEngine.CALLS}"
        print("estimate:", whole.asDict())

        report = wb.compare(load_dataset(dataset), ["default", "ZeroPlugin"], progress=False)
        assert report.labels == {"default": LABEL, "ZeroPlugin": "ZeroPlugin"}, report.labels
        counted = report.per_image.set_index(["estimator", "image"])["pred_count"]
        white_pixels = [len(white) for white, _ in SPOTS_DATASET.values()]
        assert list(counted["default"]) == white_pixels and set(counted["ZeroPlugin"]) == {0}, counted
        assert LABEL in report.summary_table().to_html() and LABEL in report._repr_html_()
        assert LABEL in repr(report), repr(report)
        page = report.to_html(out / "report.html").read_text()
        assert f"Estimator comparison: {LABEL}, ZeroPlugin" in page, "the page names the default's provider"
        document = json.loads(report.to_json(out / "report.json").read_text())
        assert document["labels"]["default"] == LABEL, document["labels"]
        assert {result["estimator"] for result in document["results"]["default"]} == {PROVIDER}
        print("compare:", report.summary[["MAE"]].to_dict())

        explorer = Explorer(wb, load_dataset(dataset), prefetch=False)
        explorer.estimator.value = "default"
        assert f"predicted <b>{white_pixels[0]}</b>" in explorer.status.value, explorer.status.value

        remote = pickle.loads(pickle.dumps(HostSpec.from_host(wb))).build()  # what a Ray actor builds
        try:
            [counted] = remote.estimate(BROKER, [image], estimator="default")
            assert (counted.count, counted.estimatorName) == (3, PROVIDER), counted
            assert FaceEngine.CALLS[-1] == expected_calls[-1], "the actor's host has the same settings"
        finally:
            remote.close()

        with Workbench(plugins, [], default="sdk", sdk_options={"data_path": str(data)}) as other:
            assert other.estimator_identity(BROKER, "default") != wb.estimator_identity(BROKER, "default"), (
                "another estimator type or launch option is another cache key")

        server = wb.serve()
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
                health = json.loads(response.read())
            assert health["estimator_labels"] == {BROKER: LABEL}, health
            request = urllib.request.Request(
                server.url + f"/estimators/{BROKER}/estimate", data=_png(image), method="POST",
                headers={"Content-Type": "image/png"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
            assert answer["count"] == 3 and answer["estimator"] == PROVIDER, answer
            print("server:", health["estimator_labels"], answer["estimator"])
        finally:
            server.stop()


def errors(data: Path) -> None:
    plugins = data.parent / "plugins"
    plugins.mkdir(exist_ok=True)

    def refused(expected: type[BaseException], *needles: str, **options: object) -> None:
        try:
            Workbench(plugins, [], default="sdk", sdk_options=options)
        except expected as error:
            assert all(needle in str(error) for needle in needles), (needles, str(error))
            print(f"{type(error).__name__}: {error}")
        else:
            raise AssertionError(f"default='sdk' with {options} was accepted")

    os.environ.pop("FSDK_ROOT", None)
    refused(ValueError, "--sdk-data", "$FSDK_ROOT")
    refused(FileNotFoundError, str(data / "missing"), "--sdk-data", data_path=str(data / "missing"))
    refused(FileNotFoundError, "faceengine.conf", "--sdk-faceengine-conf",
            data_path=str(data), faceengine_conf=str(data / "other.conf"))
    refused(FileNotFoundError, "licence", "--sdk-license", data_path=str(data), license=str(data / "no.lic"))
    refused(ValueError, "PEOPLE_COUNT_V3", "did you mean 'PEOPLE_COUNT_V2'", data_path=str(data),
            estimator_type="PEOPLE_COUNT_V3")
    refused(TypeError, "'data'", "data_path", data=str(data))

    os.environ["FSDK_ROOT"] = str(data.parent)
    with Workbench(plugins, [], default="sdk") as wb:
        assert wb.estimate(BROKER, [spots()])[0].count == 3, "$FSDK_ROOT/data is the data folder, as in the SDK"

    broken = data.parent / "broken.conf"
    broken.write_text("broken\n")
    with Workbench(plugins, [], default="sdk", sdk_options={"runtime_conf": str(broken)}) as wb:
        try:
            wb.estimate(BROKER, [spots()])
        except RuntimeError as error:
            assert "could not create its people-count estimator" in str(error) and "broken" in str(error), error
            print(f"RuntimeError: {error}")
        else:
            raise AssertionError("an engine the core refuses was built")


def _png(image: VLImage) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image.asNPArray()).save(buffer, format="PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    mode, *paths = sys.argv[1:]
    if mode == "run":
        run(*map(Path, paths))
    else:
        errors(Path(paths[0]))
    print("all checks passed")
