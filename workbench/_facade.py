"""The public ``Workbench``: the host plus the research and server entry points.

The host package knows nothing of the server or the research layer (imports go one way); this facade, at
the top of the package, joins them for notebook users.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .host import Workbench as _Host

if TYPE_CHECKING:
    from .research import ComparisonReport, Dataset
    from .server import ServerHandle


class Workbench(_Host):
    __doc__ = _Host.__doc__

    def serve(self, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> "ServerHandle":
        """Serve these plugins over HTTP on the host's loop; ``server.url``, ``server.stop()``.

        ``port=0`` picks a free port. Options go to ``workbench.server.build_app``
        (``allow_estimator_switching``, ``max_body_size``). On loopback (the default) no token is needed; on any
        other ``host`` every request needs ``Authorization: Bearer <server.token>`` (``token=`` gives it, else one is
        made; ``insecure_no_token=True`` serves without). The server stops when the host closes.
        """
        from .server import start_server

        self._require_running()
        return start_server(self, host=host, port=port, **options)

    def compare(self, dataset: "Dataset | str | Path", estimators: list[str] | None = None, **options: Any) -> "ComparisonReport":
        """Run each estimator over ``dataset`` (each by name: what the host serves does not change) and return the
        report.

        See ``workbench.research.compare`` for the options.
        """
        from .research import compare

        self._require_running()
        return compare(self, dataset, estimators, **options)
