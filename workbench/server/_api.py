"""The built-in API: health, plugins, estimators, estimate (an image; a sequence in ``_sequence``) and (when
enabled) estimator switching."""
from __future__ import annotations

import json
import os
import re
from typing import Any, Awaitable, Callable

from aiohttp import web

from .._compat import service_providers
from ..host import UnknownEstimatorError
from ._access import require_json
from ._errors import ApiError, ErrorCode
from ._estimating import estimated, known_broker, parse_detect_area, parse_targets_query, read_file_parts
from ._request import read_body
from ._sequence import estimate_sequence
from ._state import EXCHANGE, STATE, ServerState

# An absolute path in a text /health shows (a loop stall's file): the server's folders are not the client's
# business, so only the file's name is kept (and its place in the plugins folder, for a plugin's file).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s:()'\"/]+/)+([^\s:()'\"/]+)")


async def health(request: web.Request) -> web.Response:
    """``{"status": "ok", "service", "plugins": {status: n}, "estimators", "estimator_labels", "monitoring":
    {plugin: stats}, "loop_stalls", "providers": {"lunavl"|"luna_plugins": {"provider": "service"|"stand-in",
    "version"}}}``; ``estimator_labels`` names each broker's served estimator with what provides it
    (``"default (vendor SDK 5.14.0)"``). No absolute paths: a loop stall names a plugin's file by its place in the
    plugins folder, any other file by its name; where the service's packages are installed is not said.
    """
    state = request.app[STATE]
    counts: dict[str, int] = {}
    for record in state.wb.plugins:
        counts[record.status] = counts.get(record.status, 0) + 1
    return web.json_response({
        "status": "ok",
        "service": state.service_name,
        "plugins": counts,
        "estimators": state.wb.estimators,
        "estimator_labels": state.wb.estimator_labels,
        "monitoring": state.monitoring.stats(),
        "loop_stalls": [
            {**stall.as_dict(), "where": _without_paths(stall.where, state)} for stall in state.wb.loop_stalls
        ],
        "providers": {
            package: {"provider": "service" if p.real else "stand-in", "version": p.version}
            for package, p in service_providers().items()
        },
    })


def _without_paths(text: str, state: ServerState) -> str:
    return _ABSOLUTE_PATH.sub(r"\1", text.replace(f"{state.wb.plugins_dir}{os.sep}", ""))


async def plugins(request: web.Request) -> web.Response:
    """``{"plugins": [{"name", "module", "kind", "status", "error", "routes": [{"path", "methods"}]}]}``."""
    wb = request.app[STATE].wb
    routes: dict[str, list[dict[str, Any]]] = {}
    for route in wb.routes:
        routes.setdefault(route.plugin, []).append({"path": route.path, "methods": sorted(m.upper() for m in route.methods)})
    rows = [{**record.as_row(), "routes": routes.get(record.name, [])} for record in wb.plugins]
    return web.json_response({"plugins": rows})


async def estimators(request: web.Request) -> web.Response:
    """``{broker: {"active": name, "choices": [names]}}``."""
    wb = request.app[STATE].wb
    choices = wb.estimator_choices
    return web.json_response(
        {broker: {"active": active, "choices": choices.get(broker, [])} for broker, active in wb.estimators.items()}
    )


async def estimate(request: web.Request) -> web.Response:
    """Count people in the image of the body (raw JPEG/PNG/... or the first file of a multipart upload).

    Query: ``targets`` (``T1`` count and points, default; ``T2`` count only), ``detect_area=x,y,w,h``.
    Answers ``CountResult.asDict()`` (``{"version", "count", "coordinates", "estimator", "elapsed", "inRange",
    "densityArea", "extras"}``) and ``"request_id"``, with the old keys ``"points"`` (= ``coordinates``) and
    ``"elapsed_ms"`` (``elapsed`` in milliseconds) kept as aliases for one release.
    """
    state = request.app[STATE]
    broker = known_broker(state, request.match_info["broker"])
    targets = parse_targets_query(request.query.get("targets", "T1"))
    area = parse_detect_area(request.query.get("detect_area"))
    async with state.budget.admitted():
        data = await _read_image_body(request, state)
        async with state.budget.image(data, area, state.max_pixels) as item:
            [answer] = await estimated(request, state, broker, [item], targets)
    elapsed = answer["elapsed"]
    # Deprecated aliases of the answer before it was CountResult.asDict(); drop them in the next release.
    answer["points"] = answer["coordinates"]
    answer["elapsed_ms"] = None if elapsed is None else round(elapsed * 1000, 3)
    return web.json_response({**answer, "request_id": request[EXCHANGE].request_id})


async def switch_estimator(request: web.Request) -> web.Response:
    """``{"name": estimator}`` makes it the estimator of the broker, when the server allows switching."""
    state = request.app[STATE]
    if not state.allow_estimator_switching:
        raise ApiError(
            403, ErrorCode.SWITCHING_DISABLED,
            "estimator switching is disabled on this server; enable it with build_app(..., "
            "allow_estimator_switching=True), wb.serve(allow_estimator_switching=True) or "
            "`workbench serve --allow-estimator-switching`",
        )
    require_json(request, '{"name": "default"}')
    broker = known_broker(state, request.match_info["broker"])
    name = _estimator_name(await read_body(request, state))
    previous = state.wb.estimators[broker]
    try:
        await state.wb.ause(broker, name)
    except UnknownEstimatorError as error:
        raise ApiError(400, ErrorCode.UNKNOWN_ESTIMATOR, str(error)) from None
    except Exception as error:
        state.logger.exception("switching %r to %r failed (request %s)", broker, name, request[EXCHANGE].request_id)
        # The type only, as for estimates: the exception's text is in the log under the request id.
        raise ApiError(
            500, ErrorCode.INTERNAL,
            f"switching {broker!r} to {name!r} failed with {type(error).__name__}; the server log has the details",
        ) from error
    return web.json_response({
        "broker": broker,
        "active": state.wb.estimators[broker],
        "previous": previous,
        "choices": state.wb.estimator_choices[broker],
        "request_id": request[EXCHANGE].request_id,
    })


# (method, path, handler); GET routes answer HEAD too.
BUILT_IN_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]]] = [
    ("GET", "/health", health),
    ("GET", "/plugins", plugins),
    ("GET", "/estimators", estimators),
    ("POST", "/estimators/{broker}/estimate", estimate),
    ("POST", "/estimators/{broker}/estimate-sequence", estimate_sequence),
    ("PUT", "/estimators/{broker}", switch_estimator),
    ("POST", "/estimators/{broker}", switch_estimator),
]


async def _read_image_body(request: web.Request, state: ServerState) -> bytes:
    """The raw body, or the first file part of a multipart upload, at most ``max_body_size`` bytes."""
    if not request.content_type.startswith("multipart/"):
        return await read_body(request, state)  # aiohttp answers 413 past client_max_size, chunked bodies included
    files = await read_file_parts(request, state, first_only=True)
    if not files:
        raise ApiError(
            400, ErrorCode.BAD_IMAGE,
            "the multipart upload has no file part; send the image as a file field (curl -F image=@photo.jpg ...)",
        )
    return files[0].data


def _estimator_name(body: bytes) -> str:
    try:
        payload = json.loads(body) if body else None
    except RecursionError:
        raise ApiError(400, ErrorCode.BAD_PARAMETER, 'the body is JSON nested too deeply; send {"name": "default"}') from None
    except ValueError as error:
        raise ApiError(
            400, ErrorCode.BAD_PARAMETER, f'the body is not valid JSON ({error}); send {{"name": "default"}}'
        ) from None
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name:
        raise ApiError(
            400, ErrorCode.BAD_PARAMETER, 'send the estimator to use as JSON: {"name": "default"} (GET /estimators lists them)'
        )
    return name
