"""The prediction store: ``compare``, the report and the ``Explorer`` share one, so no image is estimated twice.

In memory by default (for one session: the Explorer and ``compare`` given the same store), or in one SQLite
file when given a path: then ``compare`` computes only what changed, and an interrupted run resumes.

A result is stored under a key made of everything that decides it:

* the estimator's identity from the host (``wb.estimator_identity``: a hash of the model's files and its tiling
  settings, or of the replacement plugin's files and what it declares it reads beside them, and the device):
  editing a plugin or swapping a model misses the cache; a plugin that declares nothing is never served from it;
* the image's content (SHA-256 of the file's bytes, not its name or date): a re-encoded image misses;
* the detect area and the estimation targets (T1/T2).

Each result is committed as soon as it is computed, so a run that is interrupted (Ctrl-C, a crash, a lost
machine) keeps everything done so far and the next run starts where it stopped.

**Why SQLite**: it is in the standard library (no new dependency), one file, transactional (a killed run
leaves whole rows, never a torn file) and takes single-row writes cheaply, which is what resuming needs. DuckDB
would be a new dependency built for column scans, not for point lookups and one-row commits; Parquet files
cannot be appended to, so every committed result would be a new file.

Each result is stored as ``CountResult.asDict()`` (JSON) beside its density map (a raw float32 array: a JSON map
would be several times larger and slower to read), and read back with ``CountResult.fromDict``; never pickled, so
opening a cache file from elsewhere runs no code. A file written by a workbench that stored results column by
column is refused with a message saying to delete it: its results are simply computed again.
"""
from __future__ import annotations

import hashlib
import html
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..result import CountResult
from ..sdk import Rect

__all__ = ["PredictionCache", "image_digest", "prediction_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    key TEXT PRIMARY KEY,
    estimator TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    detect_area TEXT,
    targets TEXT NOT NULL,
    result TEXT NOT NULL,
    density BLOB,
    density_shape TEXT,
    created REAL NOT NULL
)
"""
_COLUMNS = ("result", "density", "density_shape")
#: SQLite's default limit on bound parameters is 999 on old builds; lookups are chunked below it.
_LOOKUP_CHUNK = 500


def image_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the image's content, whatever its name)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prediction_key(estimator: str, image_sha256: str, detect_area: Rect | None, targets: str) -> str:
    """The cache key of one estimation: a hash of the estimator identity, image content, area and targets."""
    area = "" if detect_area is None else json.dumps(detect_area.asDict(), sort_keys=True)
    return hashlib.sha256("\0".join((estimator, image_sha256, area, targets)).encode()).hexdigest()


class PredictionCache:
    """Results by :func:`prediction_key`: in memory (``path=None``, the default) or in the SQLite file ``path``
    (created with its folder if missing).

    One store serves ``compare(..., cache=store)`` and ``Explorer(wb, data, cache=store)``: what one computed,
    the other reads (``explorer.cache`` is the Explorer's). ``compare`` also takes a path
    (``cache="runs/cache.sqlite"``). ``get``/``get_many``, ``key in store`` and ``put`` are the whole interface;
    any thread may call them (the Explorer writes from its prefetch thread). Use it as a context manager, or call
    ``close()``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        #: The SQLite file, or ``None`` for a store in memory.
        self.path = None if path is None else Path(path).expanduser()
        # One connection shared by the threads that use the store, one statement at a time.
        self._lock = threading.Lock()
        try:
            if self.path is None:
                self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                # WAL: readers (a notebook looking at the cache) never block the run writing to it.
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(predictions)")}
        except sqlite3.DatabaseError as error:
            raise ValueError(
                f"{self.path} is not a usable prediction cache ({error}); pass a new file name or delete this one"
            ) from error
        if "result" not in columns:
            self._db.close()
            raise ValueError(
                f"{self.path} is a prediction cache of an older workbench (results stored column by column); "
                "delete it, and the next run computes its results again, or pass a new file name"
            )

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def get_many(self, keys: Iterable[str]) -> dict[str, CountResult]:
        """The cached results among ``keys`` (missing keys are simply absent from the answer)."""
        return {key: _decode(dict(zip(_COLUMNS, values))) for key, *values in self._lookup(keys, _COLUMNS)}

    def counts(self, keys: Iterable[str]) -> dict[str, int]:
        """The cached counts among ``keys``, without reading their density maps (a timeline of a long sequence)."""
        return {key: int(json.loads(text)["count"]) for key, text in self._lookup(keys, ("result",))}

    def _lookup(self, keys: Iterable[str], columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """``(key, *columns)`` of the rows among ``keys``, looked up in chunks under SQLite's parameter limit."""
        keys = list(dict.fromkeys(keys))
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            rows += self._rows(
                f"SELECT key, {', '.join(columns)} FROM predictions WHERE key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        return rows

    def get(self, key: str) -> CountResult | None:
        """The cached result under ``key``, or ``None``."""
        return self.get_many([key]).get(key)

    def __contains__(self, key: object) -> bool:
        return bool(self._rows("SELECT 1 FROM predictions WHERE key = ?", (key,)))

    def put(
        self, key: str, result: CountResult, *, estimator: str, image_sha256: str,
        detect_area: Rect | None = None, targets: str = "T1",
    ) -> None:
        """Store (or replace) one result, committed at once."""
        fields = _encode(result)
        area = None if detect_area is None else json.dumps(detect_area.asDict(), sort_keys=True)
        self._rows(
            f"INSERT OR REPLACE INTO predictions (key, estimator, image_sha256, detect_area, targets, "
            f"{', '.join(_COLUMNS)}, created) VALUES ({', '.join('?' * (len(_COLUMNS) + 6))})",
            (key, estimator, image_sha256, area, targets, *(fields[c] for c in _COLUMNS), time.time()),
        )

    def __len__(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM predictions")[0][0])

    def estimators(self) -> dict[str, int]:
        """Estimator identity -> number of cached results."""
        rows = self._rows("SELECT estimator, COUNT(*) FROM predictions GROUP BY estimator ORDER BY estimator")
        return {name: int(n) for name, n in rows}

    def clear(self) -> None:
        """Forget every cached result."""
        self._rows("DELETE FROM predictions")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PredictionCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "" if self.path is None else f"{str(self.path)!r}, "
        return f"PredictionCache({where}results={len(self)})"

    def _repr_html_(self) -> str:
        where = "in memory" if self.path is None else str(self.path)
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(name)}</td><td>{n}</td></tr>"
            for name, n in self.estimators().items()
        )
        return (f"<table><caption style='text-align:left'><b>Prediction cache</b> {html.escape(where)}"
                f"</caption><tr><th>estimator identity</th><th>results</th></tr>{rows}</table>")


def _encode(result: CountResult) -> dict[str, Any]:
    density = result.densityMap
    return {
        "result": json.dumps(result.asDict()),
        "density": None if density is None else np.ascontiguousarray(density, dtype="<f4").tobytes(),
        "density_shape": None if density is None else json.dumps(list(density.shape)),
    }


def _decode(row: Mapping[str, Any]) -> CountResult:
    density = None
    if row["density"] is not None:
        density = np.frombuffer(row["density"], dtype="<f4").reshape(json.loads(row["density_shape"]))
    return CountResult.fromDict({**json.loads(row["result"]), "densityMap": density})
