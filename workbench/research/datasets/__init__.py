"""People-counting datasets: a folder of images with optional head-point annotations.

Formats, one loader each (``load_dataset`` picks one by looking at the folder, or takes ``format=``):

========================  ====================================================================================
``crowd-json``            ``images/X.jpg`` + ``points/X.json`` (the crowd-mini layout), or JSON beside images
``shanghaitech``          ``images/IMG_N.jpg`` + ``ground-truth/GT_IMG_N.mat`` (``image_info{1}.location``)
``ucf-qnrf``              ``img_NNNN.jpg`` + ``img_NNNN_ann.mat`` (``annPoints``), in ``Train/`` and ``Test/``
``nwpu``                  ``images/``, ``jsons/NNNN.json`` (``human_num``, ``points``), ``train/val/test.txt``
``jhu``                   ``{split}/images/``, ``gt/NNNN.txt`` (``x y w h o b``), ``image_labels.txt``
``mall``                  ``frames/seq_NNNNNN.jpg`` + ``mall_gt.mat`` (``frame{1,i}.loc``): a frame sequence
``video``                 a video file (``.mp4``, ``.mkv``, ...; PyAV), points in ``clip.points.json`` beside it
``images``                images only: ``points`` and ``count`` are ``None`` (estimators run, nothing is scored)
========================  ====================================================================================

Sequences (``load_sequence``): a video, sampled every N frames or every T seconds, or any folder above read as
frames in name order; samples carry ``frame`` and ``time`` (``Dataset.is_sequence``), so ``compare`` reports
counts over time. Mall and video datasets are sequences as ``load_dataset`` reads them.

Points are ``(x, y)`` in pixels of the image as decoded (``sample.image``, what estimators see): x is the column,
y the row. Per-image labels a benchmark publishes (NWPU-Crowd's scene level, JHU-Crowd++'s weather, ...) are kept
in ``Sample.labels``.

Loading reads every annotation file and every image *header* (for the bounds check), but decodes no pixels:
``sample.image`` decodes on each access. Problems are raised at load time as ``DatasetError``, so a broken file
is found before an evaluation runs for minutes:

* detection never degrades silently: a folder that holds annotation-like files (``.json``, ``.mat``, ``.txt``,
  ``.csv``, ...) in a layout no loader reads is an error naming what was found, not an unannotated dataset;
* an annotation file whose image is missing raises (the copy is broken or the names differ);
* a published count that disagrees with the points (``count``, ``number``, ``human_num``, ``total_count``)
  raises, naming the file and both numbers;
* an image without an annotation in an annotated dataset is kept with ``points=None`` and reported by one
  ``DatasetWarning`` listing the images (``Dataset.annotated`` tells whether every sample can be scored);
* two image files of one name (``a.jpg``, ``a.png``) raise: they would share one annotation and one report row;
* a benchmark's root (``Train/`` + ``Test/``, ``train_data/`` + ``test_data/``, ...) without ``split`` raises,
  naming the splits to pass; an NWPU-Crowd image in two split lists raises, naming both;
* an image whose EXIF orientation turns it when decoded has its points turned with it, from the frame they were
  clicked in: ``points_frame`` (``"stored"`` pixels or ``"upright"`` photo), else the format's convention (the
  benchmarks: ``"stored"``), else (crowd-json) the one frame the points fit; points that fit both raise, naming
  the images. Turned images are listed by a ``DatasetWarning``;
* points outside their image by more than ``BOUNDS_TOLERANCE_PX`` are stray clicks, dropped with a
  ``DatasetWarning`` naming each, when they are at most ``STRAY_POINTS_MAX_SHARE`` (10 %) of the image's points;
  more, or ``stray_points="refuse"``, raises (another image's annotation, a resized copy, x and y swapped).
"""
from __future__ import annotations

from ._core import IMAGE_SUFFIXES, Dataset, Sample
from ._errors import DatasetError, DatasetWarning
from ._load import FORMATS, POINTS_FRAMES, detect_format, is_video, load_dataset
from ._placing import BOUNDS_TOLERANCE_PX, STRAY_POINTS, STRAY_POINTS_MAX_SHARE
from ._sequence import load_sequence
from ._synthetic import make_synthetic_dataset
from ._video import VIDEO_SUFFIXES, VideoFile, VideoFrame, load_video

__all__ = [
    "BOUNDS_TOLERANCE_PX",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "POINTS_FRAMES",
    "STRAY_POINTS",
    "STRAY_POINTS_MAX_SHARE",
    "VIDEO_SUFFIXES",
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "Sample",
    "VideoFile",
    "VideoFrame",
    "detect_format",
    "is_video",
    "load_dataset",
    "load_sequence",
    "load_video",
    "make_synthetic_dataset",
]

