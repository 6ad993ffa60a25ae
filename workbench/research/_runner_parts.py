"""What the local and the Ray runner share: the recipe of a host for another process, and one timed call.

``HostSpec`` is the small picklable recipe a Ray actor builds its own ``Workbench`` from: the host object
itself (threads, an event loop, ONNX sessions) cannot travel to another process.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..host import EstimatorOutputError
from ..result import CountResult
from ..sdk import EstimationTargets

if TYPE_CHECKING:
    from ..host import SdkOptions, Workbench

__all__ = ["FailedImage", "HostSpec", "OnResult", "estimate_timed"]


@dataclass(frozen=True)
class FailedImage:
    """An image the estimator answered with a result the host refused (``EstimatorOutputError``): ``reason``
    names the estimator and what was wrong. ``compare`` reports it instead of scoring it."""

    reason: str


OnResult = Callable[[int, "CountResult | FailedImage"], None]


@dataclass(frozen=True)
class HostSpec:
    """What a remote process needs to build a host like ``wb``: its plugins folder, active list, device,
    default (the model, or the vendor SDK with its settings) and strict mode.

    The plugins folder, a ``default_model`` file and the ``models`` files must exist at the same paths where the host is built (on
    a cluster: a shared file system, or the same checkout on every node). Without ``default_model`` the
    default model comes from the environment there (``$WORKBENCH_DEFAULT_MODEL``, else the bundled one). With
    ``default="sdk"`` the vendor's SDK, its data folder and the files its settings name must be there too.
    A host built with custom ``default_estimators`` factories cannot send them: its actors use that default.
    """

    plugins_dir: str
    active_plugins: tuple[str, ...]
    device: str = "cpu"
    default_model: str | None = None
    strict: str | None = None
    default: str = "model"
    sdk_options: SdkOptions | None = None
    models: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_host(cls, wb: Workbench) -> HostSpec:
        model = None if wb.default_model is None else str(wb.default_model)
        return cls(
            str(wb.plugins_dir), tuple(wb.active_plugins), wb.config.globalDeviceClass, model, wb.strict, wb.default,
            wb.sdk_options, tuple((name, str(path)) for name, path in wb.models.items()),
        )

    def build(self) -> Workbench:
        """A started host; one estimator worker (an actor runs one image batch at a time)."""
        from ..host import Workbench

        return Workbench(
            self.plugins_dir, list(self.active_plugins), device=self.device, default_model=self.default_model,
            default=self.default, sdk_options=self.sdk_options, strict=self.strict or False, models=dict(self.models),
        ).start()


def estimate_timed(
    wb: Workbench, broker: str, name: str, images: list[Any], targets: EstimationTargets
) -> tuple[list[CountResult | FailedImage], float]:
    """``wb.estimate`` by estimator ``name`` with its wall time, checking that one result came back per image; an
    image whose result the host refused is a ``FailedImage`` (the call's other images keep their results)."""
    began = time.perf_counter()
    batch: list[CountResult | FailedImage]
    try:
        batch = list(wb.estimate(broker, images, targets, estimator=name))
    except EstimatorOutputError as error:
        batch = [
            FailedImage(f"estimator {name!r}: {error.failures[position]}") if result is None else result
            for position, result in enumerate(error.results)
        ]
    busy = time.perf_counter() - began
    if len(batch) != len(images):
        raise RuntimeError(
            f"estimator {name!r} returned {len(batch)} results for {len(images)} images; "
            "an estimator must return one PeopleCount per image"
        )
    return batch, busy
