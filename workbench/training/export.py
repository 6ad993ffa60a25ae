"""ONNX export of a trained density model and its check against torch."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

OPSET = 17


def export_onnx(model: torch.nn.Module, path: str | Path, description: dict[str, Any]) -> None:
    """Write ``model`` as ONNX (opset 17) with dynamic batch, height and width.

    The model description is also stored in the file's metadata (key ``"description"``), so a copy of the
    ``.onnx`` that travelled without its ``.json`` still says how to feed it.
    """
    model = model.eval()
    example = torch.zeros(1, 3, 64, 64)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo; it still gives the plainest graph for
        # a conv stack, and its deprecation notice would only clutter the training log.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[description["input"]],
            output_names=[description["output"]],
            dynamic_axes={
                description["input"]: {0: "batch", 2: "height", 3: "width"},
                description["output"]: {0: "batch", 2: "out_height", 3: "out_width"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "description", json.dumps(description)
    proto.doc_string = f"{description['name']}: density-map people counter; count = sum of '{description['output']}'"
    onnx.save(proto, str(path))


def compare_onnx(model: torch.nn.Module, path: str | Path, image: np.ndarray, threads: int = 2) -> dict[str, float | list[int]]:
    """Run one normalised ``(3, H, W)`` image through torch and onnxruntime; max abs difference and counts."""
    batch = image[None].astype(np.float32)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(batch)).numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {session.get_inputs()[0].name: batch})
    return {
        "input_shape": list(batch.shape),
        "output_shape": list(actual.shape),
        "max_abs_diff": float(np.abs(actual - expected).max()),
        "torch_count": float(expected.sum()),
        "onnx_count": float(actual.sum()),
    }
