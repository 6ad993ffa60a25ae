"""The built-in API: health, plugins, estimators, estimate and (when enabled) estimator switching."""
from __future__ import annotations

import asyncio
import json
import math
import os
import re
from typing import Any, Awaitable, Callable

from aiohttp import MultipartReader, StreamReader, web

from .._compat import service_providers
from ..host import PluginTimeoutError, UnknownEstimatorError
from .._checks import unknown_broker_message
from ..images import parse_targets
from ..sdk import EstimationTargets, Rect
from ._access import require_json
from ._budget import RequestImage
from ._errors import ApiError, ErrorCode
from ._request import BODY_ERRORS, body_too_slow, read_body
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
    broker = _known_broker(state, request.match_info["broker"])
    targets = _parse_targets(request.query.get("targets", "T1"))
    area = _parse_detect_area(request.query.get("detect_area"))
    async with state.budget.admitted():
        data = await _read_image_body(request, state)
        async with state.budget.image(data, area, state.max_pixels) as item:
            answer = await _estimated(request, state, broker, item, targets)
    elapsed = answer["elapsed"]
    # Deprecated aliases of the answer before it was CountResult.asDict(); drop them in the next release.
    answer["points"] = answer["coordinates"]
    answer["elapsed_ms"] = None if elapsed is None else round(elapsed * 1000, 3)
    return web.json_response({**answer, "request_id": request[EXCHANGE].request_id})


async def _estimated(
    request: web.Request, state: ServerState, broker: str, item: RequestImage, targets: EstimationTargets,
) -> dict[str, Any]:
    """The estimate of ``item`` as ``CountResult.asDict()``; the estimator's failures as ``ApiError``."""
    try:
        [result] = await state.wb.aestimate(broker, [item], targets)
    except UnknownEstimatorError as error:
        raise ApiError(404, ErrorCode.UNKNOWN_BROKER, str(error)) from None
    except PluginTimeoutError as error:
        raise ApiError(504, ErrorCode.TIMEOUT, str(error)) from None
    except Exception as error:
        name = state.wb.estimator_label(broker, state.wb.estimators.get(broker, "?"))
        state.logger.exception("estimator %r of %r failed (request %s)", name, broker, request[EXCHANGE].request_id)
        # The type only, as for plugin routes: the exception's text is in the log under the request id.
        raise ApiError(
            500, ErrorCode.INTERNAL,
            f"estimator {name!r} of {broker!r} failed with {type(error).__name__}; the server log has the details",
        ) from error
    return result.asDict()


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
    broker = _known_broker(state, request.match_info["broker"])
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
    ("PUT", "/estimators/{broker}", switch_estimator),
    ("POST", "/estimators/{broker}", switch_estimator),
]


def _known_broker(state: ServerState, broker: str) -> str:
    if broker not in state.wb.estimators:
        raise ApiError(404, ErrorCode.UNKNOWN_BROKER, unknown_broker_message(broker, state.wb.estimators))
    return broker


def _parse_targets(value: str) -> EstimationTargets:
    try:
        return parse_targets(value)
    except ValueError as error:
        raise ApiError(400, ErrorCode.BAD_PARAMETER, f"query parameter targets: {error}") from None


def _parse_detect_area(value: str | None) -> Rect | None:
    if value is None:
        return None
    parts = value.split(",")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(parts) != 4 or len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ApiError(
            400, ErrorCode.BAD_PARAMETER,
            f"query parameter detect_area={value!r} must be four numbers x,y,width,height (e.g. 0,0,640,480)",
        )
    x, y, width, height = (int(n) if n.is_integer() else n for n in numbers)
    if width <= 0 or height <= 0:
        raise ApiError(400, ErrorCode.BAD_PARAMETER, f"detect_area={value!r}: width and height must be positive")
    return Rect(x, y, width, height)


async def _read_image_body(request: web.Request, state: ServerState) -> bytes:
    """The raw body, or the first file part of a multipart upload, at most ``max_body_size`` bytes."""
    limit = state.max_body_size
    if not request.content_type.startswith("multipart/"):
        return await read_body(request, state)  # aiohttp answers 413 past client_max_size, chunked bodies included
    if state.raw_bodies and request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
        raise ApiError(415, ErrorCode.BAD_BODY, "send a multipart upload without a Content-Encoding")
    try:
        async with asyncio.timeout(state.read_timeout):
            image = await _first_file(await request.multipart(), request.content, limit)
    except TimeoutError:
        raise body_too_slow(state) from None
    except (ValueError, RuntimeError, *BODY_ERRORS) as error:
        raise ApiError(400, ErrorCode.BAD_BODY, f"the multipart body cannot be parsed: {error}") from None
    if image is None:
        raise ApiError(
            400, ErrorCode.BAD_IMAGE,
            "the multipart upload has no file part; send the image as a file field (curl -F image=@photo.jpg ...)",
        )
    return image


async def _first_file(reader: MultipartReader, stream: StreamReader, limit: int) -> bytes | None:
    """The first top-level file part's bytes; the whole body is read, at most ``limit`` bytes of it in all.

    Every part is read here, chunk by chunk, rather than skipped by aiohttp (which reads a skipped part to its end
    unbounded): a chunked upload has no Content-Length to refuse it by, so the bytes received are counted.
    """
    image = None
    while (part := await reader.next()) is not None:
        _check_received(stream, limit)  # also between parts: endless empty parts have no chunks
        if isinstance(part, MultipartReader):  # a nested multipart: read through; its files are not the upload
            await _first_file(part, stream, limit)
            continue
        keep = image is None and part.filename is not None
        data = bytearray()
        while chunk := await part.read_chunk():
            _check_received(stream, limit)
            if keep:
                data += chunk
        if keep:
            image = bytes(data)
    return image


def _check_received(stream: StreamReader, limit: int) -> None:
    if stream.total_bytes > limit:
        raise ApiError(
            413, ErrorCode.BODY_TOO_LARGE,
            f"the multipart body is over this server's limit of {limit} bytes (max_body_size)",
        )


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
