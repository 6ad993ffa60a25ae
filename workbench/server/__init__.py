"""The embedded aiohttp server: a host's plugins and estimators over HTTP, with the service's monitoring.

``build_app(wb)`` makes the application (for aiohttp's test client or your own runner);
``start_server(wb)`` runs it on the host's own loop, so it keeps serving between and during notebook cells.

Routes:

- the routes of the active background plugins, at the paths they register, looked up per request (so
  ``wb.reload`` changes them live). A class handler answers the verbs it defines, a function handler the
  ``methods`` it was registered with, a ``GET`` handler ``HEAD`` too; other methods get 405 with an ``Allow``
  header. Plugin code runs on the host's loop and receives a ``PluginRequest`` (see ``workbench.server._request``): ``method``,
  ``path``, ``query``, ``headers``, ``body`` (bytes), ``json`` (parsed, sanic-style), ``await read()``,
  ``await text()``.
- ``GET /health``, ``GET /plugins``, ``GET /estimators`` (broker -> active, choices);
- ``POST /estimators/{broker}/estimate``: raw image body or multipart upload, query ``targets=T1|T2`` and
  ``detect_area=x,y,w,h``; answers ``{"count", "points", "estimator", "elapsed_ms", "request_id"}``;
- ``PUT``/``POST /estimators/{broker}`` with ``{"name": ...}`` when ``allow_estimator_switching=True``.

Who may use it (``_access``): a token off loopback (``start_server``'s ``token``, one made when none is given,
``insecure_no_token``), ``Host`` checked against DNS rebinding (``allowed_hosts``), foreign ``Origin``s refused on
the built-in routes (``allowed_origins``), JSON only for estimator switching; ``docs/serving.md``.

Every response has an ``X-Request-Id`` header (a valid incoming one is echoed); errors are JSON
``{"error": ..., "request_id": ...}``, a failure of the server's side saying what failed and its type only (the
details are in the log under the request id). Each request produces a ``request`` monitoring point, and each
failure an ``error`` point (``ErrorCode``), delivered to the ``monitoring_event`` plugins in batches after
the response, off the request's path.
"""
from ._app import build_app
from ._errors import ErrorCode
from ._launch import ServerHandle, astart_server, start_server
from ._request import BadRequestBody, PluginRequest

__all__ = ["BadRequestBody", "ErrorCode", "PluginRequest", "ServerHandle", "astart_server", "build_app", "start_server"]
