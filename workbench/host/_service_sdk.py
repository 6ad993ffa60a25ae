"""Estimator inputs in the types of the service's real ``lunavl``, where it answers the SDK's imports.

A replacement estimator written for the service checks its inputs against the SDK it imports
(``isinstance(image, VLImage)`` in the service's own example). Where the service's real ``lunavl`` is installed
it wins on the import path, so the workbench's own images would be refused: the host rebuilds each image,
detect area and target with the installed SDK's public constructors before handing a batch to a plugin.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from .._compat import service_providers
from ..sdk import ImageForPeopleEstimation, Rect, VLImage

InputConverter = Callable[[list[Any], Any], tuple[list[Any], Any]]


def service_input_converter() -> InputConverter | None:
    """A function giving a batch in the installed ``lunavl``'s types, or None when the stand-in answers."""
    if not service_providers()["lunavl"].real:
        return None
    images = importlib.import_module("lunavl.sdk.image_utils.image")
    geometry = importlib.import_module("lunavl.sdk.image_utils.geometry")
    people_count = importlib.import_module("lunavl.sdk.estimators.image_estimators.people_count")

    def picture(image: VLImage) -> Any:
        return images.VLImage.fromNumpyArray(image.asNPArray(), inputColorFormat=image.format.value, filename=image.filename)

    def area(rect: Rect | None) -> Any:
        return None if rect is None else geometry.Rect(rect.x, rect.y, rect.width, rect.height)

    def entry(item: Any) -> Any:
        if isinstance(item, ImageForPeopleEstimation):
            return people_count.ImageForPeopleEstimation(picture(item.image), area(item.detectArea))
        if isinstance(item, tuple) and isinstance(item[0], VLImage):  # a plain (VLImage, Rect) pair stays one
            return picture(item[0]), area(item[1])
        if isinstance(item, VLImage):
            return picture(item)
        return item  # already the installed SDK's (a caller that built it with the real lunavl)

    def convert(batch: list[Any], targets: Any) -> tuple[list[Any], Any]:
        name = getattr(targets, "name", targets)
        return [entry(item) for item in batch], people_count.EstimationTargets[name]

    return convert
