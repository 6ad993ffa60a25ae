"""Run in a subprocess by test_real_packages.py, with the written "real" packages and ``tests/`` first on PYTHONPATH.

``python real_packages_run.py PLUGINS_DIR DATASET_DIR EVENT_MODULE``: hosts the service's three published
examples (verbatim, from PLUGINS_DIR) and an event plugin subclassing the service's class directly, and checks
the host, ``compare``, plots, metrics, the Explorer, the server and ``workbench check`` against the service's packages.
Each check asserts with a message; the last line printed is ``all checks passed``.
"""
from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import luna_plugins.base.plugins_meta.base_plugins as service_bases  # noqa: E402
from helpers.bucket_service import bucket_service  # noqa: E402
from helpers.reference_plugins import MODULES  # noqa: E402
from helpers.service_packages import LUNA_PLUGINS_VERSION, LUNAVL_VERSION  # noqa: E402
from workbench import Rect, VLImage, Workbench  # noqa: E402
from workbench._compat import service_providers  # noqa: E402
from workbench.authoring import check_plugins  # noqa: E402
from workbench.plugins import MonitoringPoint  # noqa: E402
from workbench.research import load_dataset  # noqa: E402
from workbench.research.metrics import game_image, mae  # noqa: E402
from workbench.research.plots import plot_density_overlay, plot_points  # noqa: E402
from workbench.research.widgets import Explorer  # noqa: E402
from workbench.result import CountResult  # noqa: E402

PLUGINS, DATASET, EVENT_MODULE = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ACTIVE = [MODULES["reference_monitoring"], MODULES["reference_background"], MODULES["reference_estimator"], EVENT_MODULE]
SPOTS = [(5, 7), (40, 30), (60, 10)]


def spots(size: tuple[int, int] = (64, 48)) -> VLImage:
    """One count per spot for the test model (it sums the pixels): a red value of 1 at each (x, y)."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    for x, y in SPOTS:
        pixels[y, x, 0] = 1
    return VLImage.fromNumpyArray(pixels)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main() -> None:
    assert "workbench" not in service_bases.__file__, f"the test's service package must answer: {service_bases.__file__}"
    providers = service_providers()
    assert providers["luna_plugins"].real and providers["luna_plugins"].version == LUNA_PLUGINS_VERSION, providers
    assert providers["lunavl"].real and providers["lunavl"].version == LUNAVL_VERSION, providers
    print("providers:", {name: str(p) for name, p in providers.items()})

    with bucket_service() as buckets, Workbench(PLUGINS, ACTIVE) as wb:
        rows = {record.name: record for record in wb.plugins}
        assert all(r.status == "active" for r in rows.values()), wb.plugins
        assert {r.kind for r in rows.values()} == {"event", "background", "estimator"}, wb.plugins
        assert "BaseRequestMonitoringPlugin" not in rows, "an abstract class of the module must not be activated"
        assert all(r.provider == f"luna_plugins {LUNA_PLUGINS_VERSION} (service)" for r in rows.values()), wb.plugins
        assert "provider" in repr(wb.plugins) and "(service)" in wb.plugins._repr_html_()
        print(wb.plugins)

        point = MonitoringPoint(series="request", tags={"route": "/x"}, fields={"ms": 3.0})
        deliveries = wb.emit("monitoring_event", [point])
        assert len(deliveries) == 2 and all(d.ok for d in deliveries), deliveries
        assert buckets.objects == [{"bucket": "plugin_test_bucket", "tags": {"route": "/x"}, "fields": {"ms": 3.0}}], buckets.objects
        assert sorted(route.path for route in wb.routes) == ["/teapot", "/teapot/version"], wb.routes

        assert wb.estimators == {"peopleCountEstimator": "PeopleCountReplacementPlugin"}, wb.estimators
        image = spots()
        whole, cropped = wb.estimate("peopleCountEstimator", [image, (image, Rect(32, 0, 32, 48))])
        assert isinstance(whole, CountResult) and whole.densityMap is None, whole
        assert whole.count == 3 and len(whole.coordinates) == 3, whole
        assert whole.estimatorName == "PeopleCountReplacementPlugin" and whole.elapsed is not None
        assert cropped.count == 2 and all(p.x >= 32 for p in cropped.coordinates), cropped
        from lunavl.sdk.image_utils.image import VLImage as ServiceVLImage

        [from_service_image] = wb.estimate("peopleCountEstimator", [ServiceVLImage(image.asNPArray())])
        assert from_service_image.count == 3, "an image built with the service's lunavl is taken as input too"
        from lunavl.sdk.image_utils.geometry import Rect as ServiceRect

        [service_pair] = wb.estimate("peopleCountEstimator", [(ServiceVLImage(image.asNPArray()), ServiceRect(32, 0, 32, 48))])
        assert service_pair.count == 2 and all(p.x >= 32 for p in service_pair.coordinates), service_pair
        [count_only] = wb.estimate("peopleCountEstimator", [image], "T2")
        assert count_only.count == 3 and count_only.coordinates == (), count_only
        json.dumps(whole.asDict())
        print("estimate:", whole.asDict())

        assert mae([3], [whole]) == 0.0
        assert game_image(whole, SPOTS, (64, 48), level=0) == 0.0 and game_image(whole, SPOTS, (64, 48), level=2) >= 0.0
        figure = plot_density_overlay(image, whole)
        assert "no density map" in figure.axes[0].get_title(), figure.axes[0].get_title()
        plot_points(image, whole)

        report = wb.compare(load_dataset(DATASET), ["PeopleCountReplacementPlugin"], progress=False)
        summary = report.summary
        assert "PeopleCountReplacementPlugin" in summary.index, summary
        print("compare:", summary[["MAE"]].to_dict())

        explorer = Explorer(wb, load_dataset(DATASET), prefetch=False)
        assert "no density map" in explorer.note.value and "estimate " in explorer.status.value, explorer.note.value
        assert explorer.picture.value, "the Explorer drew the image with the plugin's points"

        server = wb.serve()
        try:
            status, body = get(server.url + "/health")
            health = json.loads(body)
            assert status == 200 and health["providers"]["luna_plugins"] == {
                "provider": "service", "version": LUNA_PLUGINS_VERSION,
            }, health
            assert health["providers"]["lunavl"]["version"] == LUNAVL_VERSION, health
            assert get(server.url + "/teapot") == (418, b"I am teapot")
            assert get(server.url + "/teapot/version") == (200, b"T800")
            request = urllib.request.Request(
                server.url + "/estimators/peopleCountEstimator/estimate", data=_png(image), method="POST",
                headers={"Content-Type": "image/png"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
            assert answer["count"] == 3 and len(answer["coordinates"]) == 3, answer
            print("server:", health["providers"])
        finally:
            server.stop()

        checked = check_plugins(PLUGINS, ACTIVE)
        assert checked.ok, str(checked)
        assert f"luna_plugins from the service's luna_plugins {LUNA_PLUGINS_VERSION}" in checked.summary, checked.summary
        print(checked.summary)
    print("all checks passed")


def _png(image: VLImage) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image.asNPArray()).save(buffer, format="PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    main()
