"""The ``wbcount`` network: a compact fully convolutional density-map counter (output stride 8)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

STRIDE = 8
# The last layer predicts density * DENSITY_SCALE: unit Gaussians have peaks of ~0.16 per cell, and the
# regression trains faster on values of order 10 than of order 0.1. forward() divides it back out.
DENSITY_SCALE = 100.0

# (out_channels, stride, dilation) of the 3x3 conv-BN-ReLU layers. Three stride-2 layers bring the
# 1024x768 input down to 128x96 early, where the cost is low; the dilated layers at stride 8 then grow the
# receptive field to ~215 px, enough to see a whole near-camera head (up to ~100 px in crowd-mini) and its
# shoulders, which is what separates heads from round foliage and patterned cloth.
LAYERS: tuple[tuple[int, int, int], ...] = (
    (16, 2, 1),
    (32, 2, 1),
    (32, 1, 1),
    (64, 2, 1),
    (64, 1, 1),
    (64, 1, 2),
    (64, 1, 3),
    (64, 1, 4),
    (64, 1, 2),
)


class WbCount(nn.Module):
    """RGB ``[N, 3, H, W]`` (normalised) -> density ``[N, 1, H/8, W/8]``; the count is the map's sum.

    ``batch_norm=False`` builds the exported form instead (each BatchNorm folded into a biased convolution),
    which is what fine-tuning from an ONNX file starts from (see :func:`load_onnx_weights`).
    """

    def __init__(self, layers: tuple[tuple[int, int, int], ...] = LAYERS, batch_norm: bool = True) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = 3
        for out_channels, stride, dilation in layers:
            conv = nn.Conv2d(channels, out_channels, 3, stride, padding=dilation, dilation=dilation,
                             bias=not batch_norm)
            blocks += [conv, nn.BatchNorm2d(out_channels)] if batch_norm else [conv]
            blocks.append(nn.ReLU(inplace=True))
            channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Conv2d(channels, 1, 1)
        # Small weights and a slightly positive bias: every cell starts active (see raw()).
        nn.init.normal_(self.head.weight, std=0.01)
        assert self.head.bias is not None  # Conv2d's default, bias=True
        nn.init.constant_(self.head.bias, 0.1)

    def raw(self, image: torch.Tensor) -> torch.Tensor:
        """The head's output before the ReLU, in units of density * DENSITY_SCALE (for the training loss)."""
        return self.head(self.features(image))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Density map; the ReLU makes empty background exactly zero, so it adds nothing to the count."""
        return torch.relu(self.raw(image)) / DENSITY_SCALE


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def load_onnx_weights(path: str | Path) -> WbCount:
    """A BatchNorm-free :class:`WbCount` holding the weights of an exported ``wbcount`` ONNX file.

    The exporter folds each BatchNorm into its convolution, so the file's Conv nodes, in graph order, carry
    exactly the weights and biases of the BatchNorm-free network. Fine-tuning continues from them without
    BatchNorm: re-inserting it would normalise with batch statistics the folded weights were not trained for.
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    initialisers = {tensor.name: numpy_helper.to_array(tensor) for tensor in proto.graph.initializer}
    convs = [node for node in proto.graph.node if node.op_type == "Conv"]
    model = WbCount(batch_norm=False)
    targets = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    if len(convs) != len(targets) or any(len(node.input) != 3 for node in convs):
        raise ValueError(f"{path} is not a wbcount export: expected {len(targets)} biased Conv nodes, "
                         f"found {len(convs)}")
    with torch.no_grad():
        for node, conv in zip(convs, targets):
            weight, bias = initialisers[node.input[1]], initialisers[node.input[2]]
            if tuple(weight.shape) != tuple(conv.weight.shape):
                raise ValueError(f"{path}: Conv weight {weight.shape} does not fit the wbcount layer "
                                 f"{tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(weight.copy()))
            assert conv.bias is not None  # WbCount(batch_norm=False): every layer has its bias
            conv.bias.copy_(torch.from_numpy(bias.copy()))
    return model
