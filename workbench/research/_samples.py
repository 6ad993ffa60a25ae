"""``sample_dataset()``: images to try the workbench on, on any machine, with no path to get right.

The team's crowd-mini photos live next to the checkout (``../shared/data/crowd-mini``) and are never shipped;
a fresh clone or a pip install has no such folder. So the quickstart and the notebooks ask for *a* dataset:
the real one when it is there, otherwise SYNTHETIC sample images generated once into the user's cache folder,
and the function says which one it returned.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from .datasets import Dataset, load_dataset, make_synthetic_dataset

__all__ = ["SAMPLE_DATA_ENV", "sample_dataset"]

#: A dataset folder to use instead of crowd-mini, or the word ``synthetic`` to force the generated images.
SAMPLE_DATA_ENV = "WORKBENCH_SAMPLE_DATA"
#: Generated images: 12, of which the last third (4) form the test split.
_SYNTHETIC_IMAGES = 12
_CROWD_MINI = Path("shared") / "data" / "crowd-mini"


def sample_dataset(split: str | None = "test", *, verbose: bool = True) -> Dataset:
    """The team's crowd-mini photos when they are next to the checkout, otherwise generated sample images.

    Looked up in this order: the folder in ``$WORKBENCH_SAMPLE_DATA`` (the word ``synthetic`` forces the
    generated images); ``../shared/data/crowd-mini`` beside the project checkout this package runs from; the
    same path beside the current folder and its parent. Without any of them, 12 SYNTHETIC images (drawings of
    people with exact head points, not photos: scores on them only show that the pipeline runs) are
    generated once into ``$XDG_CACHE_HOME/workbench`` (``~/.cache/workbench``) and reused.

    Args:
        split: ``"test"``, ``"train"`` or ``None`` for every image.
        verbose: print one line saying which data it is and where.
    """
    chosen = os.environ.get(SAMPLE_DATA_ENV, "").strip()
    if chosen and chosen != "synthetic":
        dataset = load_dataset(chosen, split=split)
        _say(verbose, f"dataset {dataset.name} from ${SAMPLE_DATA_ENV} ({chosen}): {len(dataset)} images")
        return dataset
    forced = chosen == "synthetic"
    real = None if forced else _find_crowd_mini()
    if real is not None:
        dataset = load_dataset(real, split=split)
        _say(verbose, f"real dataset crowd-mini ({real}): {len(dataset)} images")
        return dataset
    root = _synthetic_root()
    dataset = load_dataset(root, split=split)
    why = f"${SAMPLE_DATA_ENV}=synthetic" if forced else "no crowd-mini next to the checkout"
    _say(verbose, f"SYNTHETIC sample images (drawings, not photos; {why}) in {root}: "
                  f"{len(dataset)} images. Scores on them only show that the pipeline runs; point "
                  f"${SAMPLE_DATA_ENV} or load_dataset() at real data.")
    return dataset


def _find_crowd_mini() -> Path | None:
    checkout = Path(__file__).resolve().parents[2]
    for base in (checkout.parent, Path.cwd().parent, Path.cwd().parent.parent):
        candidate = base / _CROWD_MINI
        if candidate.is_dir():
            return candidate
    return None


def _synthetic_root() -> Path:
    """The generated images' folder, under a name made from the generator's source: a changed generator regenerates."""
    import inspect

    from .datasets import _synthetic

    version = hashlib.sha1(inspect.getsource(_synthetic).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench" / f"samples-{version}"
    root = cache / "synthetic"
    if not root.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        # Generated aside and renamed into place: an interrupted run or a second kernel never sees half a folder.
        staging = Path(tempfile.mkdtemp(prefix="synthetic-", dir=cache))
        make_synthetic_dataset(staging, n=_SYNTHETIC_IMAGES)
        try:
            staging.rename(root)
        except OSError:  # another process finished first
            shutil.rmtree(staging, ignore_errors=True)
    return root


def _say(verbose: bool, line: str) -> None:
    if verbose:
        print(line)
