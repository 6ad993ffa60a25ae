"""The SDK image and result types, with the service's names, so that the service's plugins run unchanged.

``workbench._compat`` maps the service's import paths (``lunavl.sdk.image_utils.image`` and friends) onto
this package when the service's own packages are absent.
"""
from __future__ import annotations

from .geometry import Rect, Vec2D
from .image import ImageDecodeError, VLImage
from .base import BaseEstimation
from .people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount

__all__ = [
    "BaseEstimation",
    "EstimationTargets",
    "ImageDecodeError",
    "ImageForPeopleEstimation",
    "PeopleCount",
    "Rect",
    "VLImage",
    "Vec2D",
]
