"""Guessing a model description from the model's own tensors, for models that come without one.

What the tensors say for certain: the input's rank and dtype, where its channel axis is (the only axis of
size 3 or 1 among the static ones), and the tensor names. What they never say is a float model's
normalisation (``scale``, ``mean``, ``std``): that depends on how it was trained. So a guess is *exact* only
for uint8 models (raw pixels, normalisation inside the graph); for float32 models it is a draft that the
user must check, and the host refuses to run a model on a draft.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import ModelDescription

__all__ = ["DescriptionGuess", "guess_description"]

_DTYPES = {"tensor(uint8)": "uint8", "tensor(float)": "float32"}
_CHANNELS = {3: "RGB", 1: "gray"}
# A float model's usual input: 0..1 pixels. Only a starting point for the user to check.
_DRAFT_SCALE = 1 / 255


@dataclass(frozen=True)
class DescriptionGuess:
    """A description read off the model's tensors.

    Attributes:
        description: the guessed description (``None`` when nothing usable could be guessed).
        exact: True when the tensors determine every field (uint8 input), False for a draft.
        reason: why it is a draft or why nothing could be guessed; empty when exact.
    """

    description: ModelDescription | None
    exact: bool
    reason: str


def _layout(shape: list[Any]) -> str | None:
    """NCHW, NHWC or HWC from the positions of static channel-sized dims; None when ambiguous."""
    def channel_sized(dim: Any) -> bool:
        return isinstance(dim, int) and dim in _CHANNELS

    if len(shape) == 3:
        return "HWC" if channel_sized(shape[2]) and not channel_sized(shape[0]) else None
    if len(shape) == 4:
        first, last = channel_sized(shape[1]), channel_sized(shape[3])
        if first != last:
            return "NCHW" if first else "NHWC"
    return None


def guess_description(session: Any, name: str) -> DescriptionGuess:
    """Guess how to feed the model an onnxruntime ``session`` runs (see the module docstring)."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        return DescriptionGuess(None, False, f"it has {len(inputs)} inputs; a density model takes only the image")
    node = inputs[0]
    dtype = _DTYPES.get(node.type)
    if dtype is None:
        return DescriptionGuess(None, False, f"its input {node.name!r} is {node.type}, neither uint8 nor float")
    layout = _layout(list(node.shape))
    if layout is None:
        return DescriptionGuess(
            None, False,
            f"the channel axis of input {node.name!r} {node.shape} is not clear (want one static axis of 3 or 1: "
            "[N, 3, H, W], [N, H, W, 3] or [H, W, 3])",
        )
    channels = _CHANNELS[node.shape[1] if layout == "NCHW" else node.shape[-1]]
    density = [o for o in outputs if o.name == "density"] or outputs
    if len(density) != 1:
        return DescriptionGuess(
            None, False, f"it has {len(outputs)} outputs and none is named 'density'; which is the density map?"
        )
    fields = {"name": name, "layout": layout, "dtype": dtype, "channels": channels,
              "input": node.name, "output": density[0].name}
    if dtype == "uint8":
        return DescriptionGuess(ModelDescription(**fields, source=f"guessed from {name}'s tensors"), True, "")
    draft = ModelDescription(**fields, scale=_DRAFT_SCALE, source=f"guessed from {name}'s tensors (draft)")
    return DescriptionGuess(
        draft, False,
        "its input is float32, and the tensors do not say how it was normalised: scale/mean/std in this draft "
        "(pixels / 255) are a guess to check against the model's training",
    )
