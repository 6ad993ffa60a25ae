"""ONNX density-map people counters: model descriptions, head-point strategies, the estimator, model tools.

``tools`` (ONNX graph surgery, int8 quantisation) is imported on use: it pulls in ``onnx`` and
onnxruntime's quantisation package, which the estimators themselves do not need.
"""
from .model import ModelDescription, ModelDescriptionError, ModelGeometry, luma, measure_geometry
from .onnx_density import GpuUnavailableWarning, OnnxDensityEstimator
from .points import POINT_STRATEGIES, Peaks, PointStrategy, TopK, get_point_strategy, peaks, topk

__all__ = [
    "GpuUnavailableWarning",
    "ModelDescription",
    "ModelDescriptionError",
    "ModelGeometry",
    "OnnxDensityEstimator",
    "POINT_STRATEGIES",
    "Peaks",
    "PointStrategy",
    "TopK",
    "get_point_strategy",
    "luma",
    "measure_geometry",
    "peaks",
    "topk",
]
