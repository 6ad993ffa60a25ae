"""Model descriptions: how to feed an ONNX density-map counter, and the geometry of its output.

A model description is a small JSON file beside the model (``wbcount.onnx`` -> ``wbcount.json``)::

    {"name": "wbcount", "layout": "NCHW", "dtype": "float32", "channels": "RGB",
     "scale": 0.00392156862745098, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
     "input": "image", "output": "density", "stride": 8}

The model input is ``(pixels * scale - mean) / std`` with ``pixels`` 0..255, in the given layout and dtype.
``"stride"`` is optional: the stride is always measured from the model (``ModelGeometry``) and a declared
one is only checked against it.

Geometry rules (what ``ModelGeometry`` measures and the estimators rely on):

* the density output's last two axes are the map's rows and columns; its other axes are the batch (for
  batched layouts) and size-1 axes;
* the map has exactly ``input / stride`` cells along each axis for inputs that are multiples of the stride,
  so map cell ``(i, j)`` covers input pixels ``[j*s, (j+1)*s) x [i*s, (i+1)*s)``;
* images are padded at the bottom and right to a multiple of the stride before inference. Models differ
  on other sizes (MCNN floors and silently drops the last partial cell, stride-2 convolutions with padding
  round up, some architectures fail): padding gives every model the same exact cell-to-pixel mapping, keeps
  heads on the right/bottom edge in the map, and costs nothing for the usual 1024x768 frames. The padding
  colour (``ModelDescription.pad_pixel``) is the one that normalises to (nearly) zero: the mean colour for
  normalised models, black for raw-pixel ones, which is what the convolutions' own zero padding shows the
  model at every border. It is applied to the uint8 pixels, so it is the same whether the normalisation
  runs in numpy or inside the graph.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from ._range import TrainingRange

__all__ = [
    "CHANNELS",
    "DTYPES",
    "LAYOUTS",
    "ModelDescription",
    "ModelDescriptionError",
    "ModelGeometry",
    "check_session",
    "luma",
    "measure_geometry",
    "stack_padded",
]

Layout = Literal["NCHW", "NHWC", "HWC"]
DType = Literal["float32", "uint8"]
Channels = Literal["RGB", "gray"]

LAYOUTS: tuple[str, ...] = ("NCHW", "NHWC", "HWC")
DTYPES: tuple[str, ...] = ("float32", "uint8")
CHANNELS: tuple[str, ...] = ("RGB", "gray")

# ITU-R 601 luma in 16-bit fixed point, exactly as Pillow's convert("L") computes it: the MCNN weights were
# trained on Pillow-converted images, and an exact match makes every implementation (numpy here, the ONNX
# graph that wrap_preprocessing builds) give bit-identical inputs.
LUMA_WEIGHTS: tuple[int, int, int] = (19595, 38470, 7471)
LUMA_ROUND = 32768
LUMA_SHIFT = 65536

# Axis positions of (channel, height, width) in the model input for each layout.
_AXES: dict[str, tuple[int, int, int]] = {"NCHW": (1, 2, 3), "NHWC": (3, 1, 2), "HWC": (2, 0, 1)}
_ORT_TYPES = {"float32": "tensor(float)", "uint8": "tensor(uint8)"}
_NUMPY_TYPES: dict[str, type[np.generic]] = {"float32": np.float32, "uint8": np.uint8}
# Near-misses seen in the wild, with the fix.
_HINTS = {
    ("channels", "l"): " (Pillow's 'L' luma is 'gray')",
    ("channels", "grey"): " (spelled 'gray')",
    ("channels", "bgr"): " (only RGB is supported: reverse the channels inside the model)",
    ("layout", "chw"): " (one image without a batch axis must be channels-last 'HWC', or add a batch axis: 'NCHW')",
}
_FIELDS = ("name", "layout", "dtype", "channels", "scale", "mean", "std", "input", "output", "stride", "range")
_REQUIRED = ("name", "layout", "dtype", "channels")
# Probe sizes (height, width): multiples of 64 so that any stride up to 64 divides them, height != width so
# that swapped axes show, and small so that probing costs milliseconds even for large models.
_PROBES: tuple[tuple[int, int], tuple[int, int]] = ((64, 96), (128, 192))


class ModelDescriptionError(ValueError):
    """A model description (or the model it describes) is invalid; the message names the file and field."""


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of uint8 RGB pixels ``(..., 3)`` as float32 ``(...)``, identical to Pillow's "L".

    Float32 is exact here: every product and sum is an integer below 2**24, and the division is by a
    power of two.
    """
    r, g, b = (rgb[..., c].astype(np.float32) for c in range(3))
    total = r * LUMA_WEIGHTS[0] + g * LUMA_WEIGHTS[1] + b * LUMA_WEIGHTS[2] + LUMA_ROUND
    return np.floor(total * np.float32(1.0 / LUMA_SHIFT))


@dataclass(frozen=True)
class ModelDescription:
    """How to feed a density-map model: layout, dtype, colour, normalisation and tensor names.

    Args:
        name: the model's name (used as the estimator name).
        layout: ``"NCHW"`` or ``"NHWC"`` (batched), or ``"HWC"`` (one image, no batch axis: what the
            service's reference plugin feeds).
        dtype: ``"float32"`` or ``"uint8"``. A uint8 model takes raw pixels: its scale, mean and std must be
            the identity (1, 0, 1); put normalisation inside the graph (``workbench model wrap``).
        channels: ``"RGB"`` or ``"gray"`` (ITU-R 601 luma, as Pillow's ``convert("L")``).
        scale, mean, std: the input is ``(pixels * scale - mean) / std``; ``mean`` and ``std`` are one
            number or one per channel.
        input, output: the names of the model's image input and density output.
        stride: the output stride, when the author wants it checked; ``None`` to only measure it.
        range: the training range (a ``TrainingRange`` or its JSON object, see ``_range.py``); results then
            carry ``inRange``. ``None``: not declared.
        source: where the description came from, for messages (not saved).

    Raises:
        ModelDescriptionError: a field is missing, unknown or out of range; the message names the source
            and the field.
    """

    name: str
    layout: Layout
    dtype: DType
    channels: Channels
    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    input: str = "image"
    output: str = "density"
    stride: int | None = None
    range: TrainingRange | None = None
    source: str = field(default="<ModelDescription>", compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("name", "input", "output"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                self._fail(name, f"must be a non-empty string, got {value!r}")
        for name, choices in (("layout", LAYOUTS), ("dtype", DTYPES), ("channels", CHANNELS)):
            value = getattr(self, name)
            if value not in choices:
                hint = _HINTS.get((name, str(value).lower()), "")
                self._fail(name, f"must be one of {', '.join(map(repr, choices))}, got {value!r}{hint}")
        scale = self._number("scale", self.scale)
        if not scale > 0:
            self._fail("scale", f"must be a positive number, got {self.scale!r}")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "mean", self._per_channel("mean", self.mean))
        std = self._per_channel("std", self.std)
        if any(not s > 0 for s in std):
            self._fail("std", f"must be positive, got {list(std)}")
        object.__setattr__(self, "std", std)
        if self.stride is not None and (
            isinstance(self.stride, bool) or not isinstance(self.stride, int) or self.stride < 1
        ):
            self._fail("stride", f"must be a whole number >= 1 or absent, got {self.stride!r}")
        if self.range is not None and not isinstance(self.range, TrainingRange):
            try:
                object.__setattr__(self, "range", TrainingRange.from_dict(self.range, self.source))
            except ValueError as error:
                raise ModelDescriptionError(str(error)) from None
        if self.dtype == "uint8" and (self.scale != 1.0 or any(self.mean) or any(s != 1.0 for s in self.std)):
            self._fail(
                "dtype",
                "is 'uint8' (raw pixels) but scale/mean/std are not 1/0/1; a uint8 model must normalise inside "
                "its graph (see `workbench model wrap`), or describe it as float32",
            )

    # -- construction ---------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> ModelDescription:
        """Build from a JSON-like dict; unknown keys are rejected (a typo would otherwise be ignored)."""
        if not isinstance(data, dict):
            raise ModelDescriptionError(f"{source}: a model description must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ModelDescriptionError(
                f"{source}: unknown field(s) {', '.join(map(repr, unknown))}; known fields: {', '.join(_FIELDS)}"
            )
        missing = [name for name in _REQUIRED if name not in data]
        if missing:
            raise ModelDescriptionError(f"{source}: missing field(s) {', '.join(map(repr, missing))}")
        return cls(**data, source=source)

    @classmethod
    def load(cls, json_path: str | os.PathLike) -> ModelDescription:
        """Read a description JSON file.

        Raises:
            FileNotFoundError: the file does not exist.
            ModelDescriptionError: it is not valid JSON or not a valid description.
        """
        path = Path(json_path)
        if not path.is_file():
            raise FileNotFoundError(f"model description {path} not found")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ModelDescriptionError(f"{path}: not valid JSON ({error})") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def for_model(cls, onnx_path: str | os.PathLike) -> ModelDescription:
        """The description of a model: ``<stem>.json`` beside it, else the ``"description"`` metadata entry
        that the workbench's exporters also store inside the ``.onnx``.

        Raises:
            FileNotFoundError: the model is missing, or it has neither a JSON file nor embedded metadata.
        """
        model = Path(onnx_path)
        json_path = model.with_suffix(".json")
        if json_path.is_file():
            return cls.load(json_path)
        if not model.is_file():
            raise FileNotFoundError(f"model {model} not found")
        embedded = _embedded_description(model)
        if embedded is None:
            raise FileNotFoundError(
                f"no model description for {model}: write {json_path} (fields: {', '.join(_FIELDS)}), "
                "or pass description=ModelDescription(...)"
            )
        try:
            data = json.loads(embedded)
        except json.JSONDecodeError as error:
            raise ModelDescriptionError(f"{model} (metadata 'description'): not valid JSON ({error})") from None
        return cls.from_dict(data, source=f"{model} (metadata 'description')")

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields (``stride`` only when set; one-element ``mean``/``std`` as a plain number)."""
        data = asdict(self)
        data.pop("source")
        for name in ("mean", "std"):
            values = list(data[name])
            data[name] = values[0] if len(values) == 1 else values
        if data["stride"] is None:
            data.pop("stride")
        if self.range is None:
            data.pop("range")
        else:
            data["range"] = self.range.to_dict()
        return data

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The description as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    # -- feeding ---------------------------------------------------------------------------------------

    @property
    def n_channels(self) -> int:
        """3 for RGB, 1 for gray."""
        return 3 if self.channels == "RGB" else 1

    @property
    def batched(self) -> bool:
        """Whether the input has a batch axis (NCHW, NHWC) or takes one image at a time (HWC)."""
        return self.layout != "HWC"

    @property
    def numpy_dtype(self) -> type[np.generic]:
        """The numpy dtype of the model input."""
        return _NUMPY_TYPES[self.dtype]

    @property
    def axes(self) -> tuple[int, int, int]:
        """Positions of (channel, height, width) in the model input."""
        return _AXES[self.layout]

    def input_shape(self, batch: int, height: int, width: int) -> tuple[int, ...]:
        """The model-input shape for ``batch`` images of ``height`` x ``width``."""
        if self.layout == "NCHW":
            return (batch, self.n_channels, height, width)
        if self.layout == "NHWC":
            return (batch, height, width, self.n_channels)
        return (height, width, self.n_channels)

    @property
    def pad_pixel(self) -> np.ndarray:
        """The RGB uint8 colour whose model input is closest to zero: the mean colour, black without a mean."""
        level = np.asarray(self.mean, dtype=np.float64) / self.scale * np.ones(self.n_channels)
        colour = np.clip(np.rint(level), 0, 255).astype(np.uint8)
        # A gray (v, v, v) pixel has luma exactly v.
        return np.repeat(colour, 3) if self.channels == "gray" else colour

    @property
    def gain_and_bias(self) -> tuple[np.ndarray, np.ndarray]:
        """The normalisation ``(pixels * scale - mean) / std`` as ``pixels * gain - bias``, one float64 value
        per channel each."""
        std = np.asarray(self.std, dtype=np.float64)
        ones = np.ones(self.n_channels)
        return self.scale / std * ones, np.asarray(self.mean, dtype=np.float64) / std * ones

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """Turn a uint8 RGB batch ``(N, H, W, 3)`` into the model input (layout, dtype, colour, normalisation).

        For the HWC layout ``N`` must be 1 and the batch axis is dropped.

        Raises:
            ValueError: ``images`` is not a uint8 ``(N, H, W, 3)`` array, or N != 1 for HWC.
        """
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"preprocess expects uint8 RGB images stacked as (N, H, W, 3), got {images.dtype} {images.shape}"
            )
        if not self.batched and images.shape[0] != 1:
            raise ValueError(
                f"model {self.name!r} has layout HWC (one image per run), got a batch of {images.shape[0]}; "
                "feed images one at a time"
            )
        n, height, width, _ = images.shape
        if self.channels == "gray":
            pixels = luma(images)[..., np.newaxis]
            if self.dtype == "uint8":
                pixels = pixels.astype(np.uint8)
        else:
            pixels = images
        if self.dtype == "uint8":
            out = pixels.transpose(0, 3, 1, 2) if self.layout == "NCHW" else pixels
            out = np.ascontiguousarray(out)
            return out[0] if self.layout == "HWC" else out
        # (pixels * scale - mean) / std folded into one multiply-add per element, written straight into the
        # target layout so that the batch is traversed once and no float32 HWC intermediate is kept.
        gain, bias = self.gain_and_bias
        out = np.empty(self.input_shape(n, height, width) if self.batched else (1, height, width, self.n_channels),
                       dtype=np.float32)
        for c in range(self.n_channels):
            target = out[:, c] if self.layout == "NCHW" else out[..., c]
            np.multiply(pixels[..., c], np.float32(gain[c]), out=target, casting="unsafe")
            target -= np.float32(bias[c])
        return out if self.batched else out[0]

    # -- helpers ---------------------------------------------------------------------------------------

    def _fail(self, name: str, message: str) -> None:
        raise ModelDescriptionError(f"{self.source}: field {name!r} {message}")

    def _number(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            self._fail(name, f"must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            self._fail(name, f"must be finite, got {value!r}")
        return number

    def _per_channel(self, name: str, value: Any) -> tuple[float, ...]:
        values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
        numbers = tuple(self._number(name, v) for v in values)
        if len(numbers) not in (1, self.n_channels):
            self._fail(
                name,
                f"must be one number or {self.n_channels} (one per {self.channels} channel), got {len(numbers)}",
            )
        return numbers


def stack_padded(images: Sequence[np.ndarray], height: int, width: int, fill: np.ndarray) -> np.ndarray:
    """Stack same-size uint8 RGB images into ``(N, height, width, 3)``, ``fill`` in the bottom/right margin.

    A single C-contiguous image that already fills ``(height, width)`` comes back as a view of it, read-only:
    copying a 1024x768 photo costs about a millisecond of a busy core per run, for nothing.
    """
    rows, cols = images[0].shape[:2]
    if len(images) == 1 and (rows, cols) == (height, width) and images[0].flags.c_contiguous:
        view = images[0][np.newaxis]
        view.flags.writeable = False
        return view
    batch = np.empty((len(images), height, width, 3), dtype=np.uint8)
    batch[:, rows:] = fill
    batch[:, :rows, cols:] = fill
    for index, image in enumerate(images):
        batch[index, :rows, :cols] = image
    return batch


def _embedded_description(model: Path) -> str | None:
    import onnx

    proto = onnx.load(str(model), load_external_data=False)
    return next((p.value for p in proto.metadata_props if p.key == "description"), None)


@dataclass(frozen=True)
class ModelGeometry:
    """What the estimators need to know about a model's shapes, measured once at load.

    Attributes:
        stride: input pixels per density-map cell, along both axes.
        fixed_size: ``(height, width)`` when the model only takes one input size (static dims), else None.
        fixed_batch: the batch size when the batch axis is static (often 1 in exported models), else None.
        measured_by: ``"static shapes"`` or ``"probing"``.
    """

    stride: int
    fixed_size: tuple[int, int] | None
    fixed_batch: int | None
    measured_by: str

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The input size an image of ``height`` x ``width`` is padded to (see the module docstring).

        Raises:
            ValueError: the model has a fixed input size smaller than the image.
        """
        if self.fixed_size is not None:
            fixed_h, fixed_w = self.fixed_size
            if height > fixed_h or width > fixed_w:
                raise ValueError(
                    f"image (or detectArea) of {width}x{height} is larger than the model's fixed input size "
                    f"{fixed_w}x{fixed_h}; pass a detectArea that fits, or export the model with dynamic "
                    "height and width"
                )
            return fixed_h, fixed_w
        s = self.stride
        return -(-height // s) * s, -(-width // s) * s


def _static(dim: Any) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def check_session(session: Any, description: ModelDescription, model: str) -> None:
    """Check that an onnxruntime session's input and output match ``description``.

    Raises:
        ModelDescriptionError: a name, rank, dtype or channel count disagrees; the message says which.
    """
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if description.input not in inputs:
        raise ModelDescriptionError(
            f"{description.source}: field 'input' is {description.input!r}, but {model} has input(s) "
            f"{', '.join(map(repr, inputs))}"
        )
    if description.output not in outputs:
        raise ModelDescriptionError(
            f"{description.source}: field 'output' is {description.output!r}, but {model} has output(s) "
            f"{', '.join(map(repr, outputs))}"
        )
    extra = [name for name in inputs if name != description.input]
    if extra:
        raise ModelDescriptionError(
            f"{model} has more than one input ({', '.join(map(repr, inputs))}); a density model takes only the image"
        )
    node = inputs[description.input]
    rank = 4 if description.batched else 3
    if len(node.shape) != rank:
        raise ModelDescriptionError(
            f"{description.source}: field 'layout' is {description.layout!r} (rank {rank}), but input "
            f"{node.name!r} of {model} has rank {len(node.shape)} (shape {node.shape}); "
            "use 'NCHW'/'NHWC' for rank 4 and 'HWC' for rank 3"
        )
    if node.type != _ORT_TYPES[description.dtype]:
        raise ModelDescriptionError(
            f"{description.source}: field 'dtype' is {description.dtype!r}, but input {node.name!r} of {model} "
            f"is {node.type}"
        )
    channels = _static(node.shape[description.axes[0]])
    if channels is not None and channels != description.n_channels:
        raise ModelDescriptionError(
            f"{description.source}: field 'channels' is {description.channels!r} ({description.n_channels} "
            f"channel(s)), but input {node.name!r} of {model} has {channels} channels at axis "
            f"{description.axes[0]} (shape {node.shape}); check 'channels' and 'layout'"
        )
    out_rank = len(outputs[description.output].shape)
    if out_rank < (3 if description.batched else 2):
        raise ModelDescriptionError(
            f"output {description.output!r} of {model} has rank {out_rank}; a density output needs its map in "
            "the last two axes ([N, 1, H', W'] or [N, H', W'])"
        )


def measure_geometry(session: Any, description: ModelDescription, model: str) -> ModelGeometry:
    """Find the output stride and input-size constraints of a model (checked with ``check_session`` first).

    From static input and output dims where the model has them; otherwise by running two small zero
    images and checking that the map is exactly ``input / stride`` for both (see the module docstring).

    Raises:
        ModelDescriptionError: the stride is not a whole number, differs between axes or probe sizes,
            disagrees with a declared ``stride``, or the model fails on the probe inputs.
    """
    check_session(session, description, model)
    node = next(i for i in session.get_inputs() if i.name == description.input)
    out_shape = next(o for o in session.get_outputs() if o.name == description.output).shape
    _, h_axis, w_axis = description.axes
    fixed_h, fixed_w = _static(node.shape[h_axis]), _static(node.shape[w_axis])
    fixed_size = (fixed_h, fixed_w) if fixed_h and fixed_w else None
    fixed_batch = _static(node.shape[0]) if description.batched else None
    map_h, map_w = _static(out_shape[-2]), _static(out_shape[-1])

    if fixed_h and fixed_w and map_h and map_w:
        strides = {_ratio(fixed_h, map_h), _ratio(fixed_w, map_w)}
        measured_by = "static shapes"
        sizes = [((fixed_h, fixed_w), (map_h, map_w))]
    else:
        probes = [fixed_size] if fixed_size is not None else list(_PROBES)
        sizes = [(size, _probe(session, description, node, size, model)) for size in probes]
        strides = {_ratio(h, mh) for (h, _), (mh, _) in sizes} | {_ratio(w, mw) for (_, w), (_, mw) in sizes}
        measured_by = "probing"
    if len(strides) != 1 or None in strides:
        found = ", ".join(f"{w}x{h} -> {mw}x{mh}" for (h, w), (mh, mw) in sizes)
        raise ModelDescriptionError(
            f"{model}: the density map is not the input divided by one whole stride ({found}, by {measured_by}); "
            "the workbench needs a 'same'-padded fully convolutional model with equal strides on both axes"
        )
    stride = strides.pop()
    assert stride is not None
    if description.stride is not None and description.stride != stride:
        raise ModelDescriptionError(
            f"{description.source}: field 'stride' says {description.stride}, but {model} has stride {stride} "
            f"(measured by {measured_by}); fix or remove the field"
        )
    return ModelGeometry(stride=stride, fixed_size=fixed_size, fixed_batch=fixed_batch, measured_by=measured_by)


def _ratio(size: int, cells: int) -> int | None:
    return size // cells if cells > 0 and size % cells == 0 else None


def _probe(session: Any, description: ModelDescription, node: Any, size: tuple[int, int], model: str) -> tuple[int, int]:
    height, width = size
    batch = (_static(node.shape[0]) or 1) if description.batched else 1
    probe = np.zeros(description.input_shape(batch, height, width), dtype=description.numpy_dtype)
    try:
        (density,) = session.run([description.output], {description.input: probe})
    except Exception as error:  # onnxruntime raises its own exception types, all meaning "cannot run this"
        raise ModelDescriptionError(
            f"{model}: cannot run a {width}x{height} probe input of shape {probe.shape} to measure the stride "
            f"({type(error).__name__}: {error}); check 'layout' and 'dtype' in {description.source}"
        ) from None
    return int(density.shape[-2]), int(density.shape[-1])
