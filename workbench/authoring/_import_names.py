"""Which modules a distribution installs, and which distributions install a module.

The name a plugin declares in ``requirements.txt`` (a distribution, ``opencv-python-headless``) and the name it
imports (a module, ``cv2``) often differ. Installed distributions say what they install (their RECORD, else
``top_level.txt``); for distributions not installed here, :data:`DISTRIBUTION_IMPORTS` is the project's table.
Where neither knows, the answer is None ("cannot tell"), never a guess that the two names are the same.

Import names are dotted where a distribution installs into a namespace package: ``google-cloud-storage``
installs ``google.cloud.storage`` and ``protobuf`` installs ``google.protobuf``, so declaring one does not
declare the other although both install into ``google``.
"""
from __future__ import annotations

import functools
import importlib.metadata
from pathlib import PurePosixPath

from ..plugins._requirements_file import normalise_name

# Normalised distribution name -> what it installs. Read from each distribution's wheel as published on PyPI
# (its RECORD / top_level.txt); the entries for distributions installed in this project's environment are checked
# against their metadata by tests/test_requirements.py. Chosen: distributions that plugin authors (image
# analytics services: vision, messaging, storage, databases) commonly declare, above all those whose module
# name differs from the distribution name, plus common same-name ones, so that check can be sure an import
# is undeclared when a plugin declares them.
DISTRIBUTION_IMPORTS: dict[str, tuple[str, ...]] = {
    # Computer vision and machine learning. The four OpenCV builds install the same cv2 (only one at a time);
    # headless first: it is the build for servers (no GUI libraries), so the one to advise.
    "opencv-python-headless": ("cv2",),
    "opencv-python": ("cv2",),
    "opencv-contrib-python-headless": ("cv2",),
    "opencv-contrib-python": ("cv2",),
    "pillow": ("PIL",),
    "scikit-learn": ("sklearn",),
    "scikit-image": ("skimage",),
    "onnxruntime": ("onnxruntime",),
    "onnxruntime-gpu": ("onnxruntime",),
    "onnxruntime-directml": ("onnxruntime",),
    "onnxruntime-openvino": ("onnxruntime",),
    "onnx": ("onnx",),
    "tensorflow": ("tensorflow",),
    "tensorflow-cpu": ("tensorflow",),
    "torch": ("torch", "torchgen", "functorch"),
    "torchvision": ("torchvision",),
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "pandas": ("pandas",),
    "matplotlib": ("matplotlib", "mpl_toolkits.axes_grid1", "mpl_toolkits.axisartist", "mpl_toolkits.mplot3d", "pylab"),
    "shapely": ("shapely",),
    "imageio": ("imageio",),
    # Databases and storage.
    "psycopg2-binary": ("psycopg2",),
    "psycopg2": ("psycopg2",),
    "pymongo": ("pymongo", "bson", "gridfs"),
    "redis": ("redis",),
    "sqlalchemy": ("sqlalchemy",),
    "asyncpg": ("asyncpg",),
    "boto3": ("boto3",),
    "botocore": ("botocore",),
    "minio": ("minio",),
    "google-cloud-storage": ("google.cloud.storage",),
    "google-api-core": ("google.api_core",),
    "google-auth": ("google.auth", "google.oauth2"),
    "protobuf": ("google.protobuf",),
    # Messaging and networking.
    "grpcio": ("grpc",),
    "grpcio-tools": ("grpc_tools",),
    "dnspython": ("dns",),
    "paho-mqtt": ("paho.mqtt",),
    "kafka-python": ("kafka",),
    "confluent-kafka": ("confluent_kafka",),
    "aiokafka": ("aiokafka",),
    "pyzmq": ("zmq",),
    "pika": ("pika",),
    "aio-pika": ("aio_pika",),
    "nats-py": ("nats",),
    "aiohttp": ("aiohttp",),
    "requests": ("requests",),
    "httpx": ("httpx",),
    "websockets": ("websockets",),
    "python-multipart": ("multipart", "python_multipart"),
    "prometheus-client": ("prometheus_client",),
    # Formats, security and utilities.
    "pyyaml": ("yaml", "_yaml"),
    "beautifulsoup4": ("bs4",),
    "python-dateutil": ("dateutil",),
    "pyjwt": ("jwt",),
    "python-jose": ("jose",),
    "pycryptodome": ("Crypto",),
    "pycryptodomex": ("Cryptodome",),
    "cryptography": ("cryptography",),
    "msgpack": ("msgpack",),
    # The standard library's tomllib before Python 3.11, often declared with a python_version marker.
    "tomli": ("tomli",),
    "tomli-w": ("tomli_w",),
    "orjson": ("orjson",),
    "ujson": ("ujson",),
    "attrs": ("attr", "attrs"),
    "pydantic": ("pydantic",),
    "python-magic": ("magic",),
    "python-dotenv": ("dotenv",),
    "pyserial": ("serial",),
    "typing-extensions": ("typing_extensions",),
    "six": ("six",),
    "tqdm": ("tqdm",),
    "loguru": ("loguru",),
    "cachetools": ("cachetools",),
}


def provides(import_names: frozenset[str], module: str) -> bool:
    """Whether a distribution installing ``import_names`` makes ``import module`` work: the module is one of
    them or inside one, or a namespace package above one (``google.cloud`` for ``google.cloud.storage``)."""
    return any(module == name or module.startswith(name + ".") or name.startswith(module + ".")
               for name in import_names)


@functools.lru_cache(maxsize=None)
def import_names(distribution: str) -> frozenset[str] | None:
    """The modules ``distribution`` installs: from its installed metadata, else the table, else None."""
    name = normalise_name(distribution)
    installed = _installed_import_names(name)
    if installed is not None:
        return installed
    known = DISTRIBUTION_IMPORTS.get(name)
    return frozenset(known) if known is not None else None


def distributions_providing(module: str) -> list[str]:
    """The distributions known to install ``module``: installed ones first, then the table's (in its order)."""
    top = module.split(".")[0]
    candidates = [normalise_name(d) for d in _installed_by_top_level().get(top, [])] + list(DISTRIBUTION_IMPORTS)
    return [
        d for d in dict.fromkeys(candidates) if (installs := import_names(d)) is not None and provides(installs, module)
    ]


@functools.lru_cache(maxsize=1)
def _installed_by_top_level() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


@functools.lru_cache(maxsize=None)
def _installed_import_names(distribution: str) -> frozenset[str] | None:
    try:
        installed = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    names = _names_from_record([PurePosixPath(str(f)) for f in installed.files or []])
    if not names:
        # No RECORD, or an editable install whose files live elsewhere: top_level.txt names the packages.
        names = frozenset((installed.read_text("top_level.txt") or "").split())
    return names or None


_MODULE_SUFFIXES = (".py", ".so", ".pyd")


def _names_from_record(files: list[PurePosixPath]) -> frozenset[str]:
    """The importable names a distribution's file list installs: each module's outermost package that has an
    ``__init__.py`` (a folder without one is a namespace shared with other distributions, so go deeper)."""
    present = {str(f) for f in files}
    names: set[str] = set()
    for file in files:
        parts = file.parts
        if (not file.name.endswith(_MODULE_SUFFIXES) or ".." in parts or parts[0] == "__pycache__"
                or parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0].startswith("__editable__")):
            continue
        folders = parts[:-1]
        depth = next((k for k in range(1, len(folders) + 1)
                      if "/".join(folders[:k]) + "/__init__.py" in present), None)
        if depth is not None:
            names.add(".".join(folders[:depth]))
        elif all(part.isidentifier() for part in folders):
            names.add(".".join([*folders, file.name.split(".")[0]]))
    return frozenset(name for name in names if all(part.isidentifier() for part in name.split(".")))
