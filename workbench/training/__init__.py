"""Training script of the workbench's default people-count model (``wbcount``).

torch is an optional extra (``pip install -e '.[train]'``): nothing here imports it at package import time,
so ``workbench.training.evaluate`` and the data helpers work with the base install (numpy, pillow, scipy,
onnxruntime). ``main`` is the entry point of ``python -m workbench.training`` and of ``workbench train``.
"""
from __future__ import annotations

from workbench.training.train import main

__all__ = ["main"]
