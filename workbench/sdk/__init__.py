"""The SDK's image and result types with the SDK's names, signatures and behaviour, so that the service's
plugins run unchanged: what ``lunavl.*`` resolves to where the service's own SDK is absent.

Only the SDK's names are public here. The workbench's own additions live elsewhere: loading from a path and
input checks in ``workbench.images``, the research result in ``workbench.result``.
``workbench._compat`` maps the service's import paths (``lunavl.sdk.image_utils.image`` and friends) onto
these modules.
"""
from __future__ import annotations

from .base import BaseEstimation
from .errors import LunaSDKException
from .geometry import Point, Rect, Size, Vec2D
from .image import ColorFormat, ImageFormat, MemoryResidence, RotationAngle, VLImage
from .people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount

__all__ = [
    "BaseEstimation",
    "ColorFormat",
    "EstimationTargets",
    "ImageForPeopleEstimation",
    "ImageFormat",
    "LunaSDKException",
    "MemoryResidence",
    "PeopleCount",
    "Point",
    "Rect",
    "RotationAngle",
    "Size",
    "VLImage",
    "Vec2D",
]
