"""The ``workbench model ...`` commands: describe, wrap and quantise density models, convert MCNN's weights.

``workbench.cli`` calls ``register(subparsers)``; each command sets ``func(args) -> int`` (the exit status).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..images import ImageDecodeError
from ._mcnn import WeightsFormatError
from .model import ModelDescription, ModelDescriptionError

__all__ = ["register"]

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
# What a user can fix from the message alone; anything else is a bug and keeps its traceback.
_USER_ERRORS = (FileNotFoundError, ModelDescriptionError, WeightsFormatError, ImageDecodeError, ValueError)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``model`` command and its subcommands to the top-level parser's subparsers."""
    model = subparsers.add_parser(
        "model", help="describe, wrap and quantise ONNX density models; convert MCNN's published weights"
    )
    commands = model.add_subparsers(
        dest="model_command", metavar="{describe,wrap,quantize,convert-mcnn}", required=True
    )

    describe = commands.add_parser(
        "describe",
        help="print a model's description (guessed from its tensors when it has none), stride and tensors",
    )
    describe.add_argument("model", type=Path, help="the .onnx file (its description: <stem>.json beside it)")
    describe.add_argument(
        "--write", action="store_true", help="write the guessed description to <stem>.json (never overwrites one)"
    )
    describe.set_defaults(func=_describe)

    wrap = commands.add_parser(
        "wrap", help="write a copy that takes RGB uint8 [H, W, 3] pixels and preprocesses inside the graph"
    )
    wrap.add_argument("model", type=Path, help="the .onnx file (its description: <stem>.json beside it)")
    wrap.add_argument("--out", type=Path, required=True, help="the new .onnx (its .json is written beside it)")
    wrap.add_argument("--batched", action="store_true", help="take a batch [N, H, W, 3] instead of one image")
    wrap.set_defaults(func=_wrap)

    quantize = commands.add_parser("quantize", help="static int8 (QDQ) quantisation calibrated on real images")
    quantize.add_argument("model", type=Path, help="the float32 .onnx file (description: <stem>.json beside it)")
    quantize.add_argument("--calibration", type=Path, required=True, help="a folder of calibration images")
    quantize.add_argument(
        "--glob", default="*", help="which files of the folder to use, e.g. '*_train_*' (default: all images)"
    )
    quantize.add_argument("--limit", type=int, default=None, help="use at most N images (sorted by name)")
    quantize.add_argument("--out", type=Path, required=True, help="the int8 .onnx (its .json is written beside it)")
    quantize.set_defaults(func=_quantize)

    convert = commands.add_parser(
        "convert-mcnn",
        help="write MCNN's published .h5 weights (crowdcount-mcnn's mcnn_shtechA_660.h5 / mcnn_shtechB_110.h5) as "
        "an ONNX density model with its description (needs h5py: pip install 'workbench[models]')",
    )
    convert.add_argument("weights", type=Path, help="the .h5 weights file")
    convert.add_argument("--out", type=Path, required=True, help="the new .onnx (its .json is written beside it)")
    convert.set_defaults(func=_convert_mcnn)


def _fail(command: str, error: Exception) -> int:
    print(f"workbench model {command}: error: {error}", file=sys.stderr)
    return 1


def _describe(args: argparse.Namespace) -> int:
    import onnxruntime as ort

    from .model import measure_geometry

    from ._guess import guess_description

    guess = None
    try:
        if not args.model.is_file():
            raise FileNotFoundError(f"ONNX model {args.model} not found")
        session = ort.InferenceSession(str(args.model), providers=["CPUExecutionProvider"])
        try:
            description = ModelDescription.for_model(args.model)
        except FileNotFoundError:
            guess = guess_description(session, args.model.stem)
            if guess.description is None:
                raise ModelDescriptionError(
                    f"{args.model} has no description and none can be guessed: {guess.reason}; write "
                    f"{args.model.with_suffix('.json')} by hand (see `workbench.estimators.model`)"
                ) from None
            description = guess.description
        geometry = measure_geometry(session, description, str(args.model))
    except _USER_ERRORS as error:
        return _fail("describe", error)
    if args.write:
        if guess is None:
            return _fail("describe", FileExistsError(f"{description.source}: the model already has a description"))
        description.to_json(args.model.with_suffix(".json"))
    report = {
        "model": str(args.model),
        "bytes": args.model.stat().st_size,
        "description": description.to_dict(),
        "description_from": description.source,
        "description_exact": guess is None or guess.exact,
        "description_note": guess.reason if guess is not None else "",
        "stride": geometry.stride,
        "stride_measured_by": geometry.measured_by,
        "fixed_input_size": geometry.fixed_size,
        "fixed_batch": geometry.fixed_batch,
        "inputs": [{"name": i.name, "shape": i.shape, "type": i.type} for i in session.get_inputs()],
        "outputs": [{"name": o.name, "shape": o.shape, "type": o.type} for o in session.get_outputs()],
    }
    print(json.dumps(report, indent=2))
    return 0


def _wrap(args: argparse.Namespace) -> int:
    from .tools import wrap_preprocessing

    try:
        wrapped = wrap_preprocessing(args.model, None, args.out, batched=args.batched)
    except _USER_ERRORS as error:
        return _fail("wrap", error)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')} (input {wrapped.layout} uint8 RGB)")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    from .tools import quantize_int8

    folder: Path = args.calibration
    if not folder.is_dir():
        return _fail("quantize", FileNotFoundError(f"calibration folder {folder} not found"))
    if args.limit is not None and args.limit < 1:
        return _fail("quantize", ValueError(f"--limit must be >= 1, got {args.limit}"))
    images = sorted(p for p in folder.glob(args.glob) if p.suffix.lower() in _IMAGE_SUFFIXES)[: args.limit]
    if not images:
        return _fail(
            "quantize", FileNotFoundError(f"no images matching {args.glob!r} in {folder} (looked for {', '.join(sorted(_IMAGE_SUFFIXES))})")
        )
    try:
        quantize_int8(args.model, args.out, images)
    except _USER_ERRORS as error:
        return _fail("quantize", error)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')} (int8, calibrated on {len(images)} images)")
    return 0


def _convert_mcnn(args: argparse.Namespace) -> int:
    from .tools import convert_mcnn_h5

    try:
        converted = convert_mcnn_h5(args.weights, args.out)
    except ImportError as error:
        return _fail("convert-mcnn", ImportError(f"{error}; install it with: pip install 'workbench[models]'"))
    except _USER_ERRORS as error:
        return _fail("convert-mcnn", error)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')} (input {converted.layout} {converted.channels} "
          f"raw pixels, stride {converted.stride})")
    return 0
