"""What the estimate endpoints share: the broker and query checks, reading a multipart upload's files, and
estimating with the estimator's failures answered as ``ApiError``."""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import MultipartReader, StreamReader, web

from .._checks import unknown_broker_message
from ..host import EstimatorOutputError, PluginTimeoutError, UnknownEstimatorError
from ..images import parse_targets
from ..sdk import EstimationTargets, Rect
from ._budget import RequestImage
from ._errors import ApiError, ErrorCode
from ._request import BODY_ERRORS, body_too_slow
from ._state import EXCHANGE, ServerState


async def estimated(
    request: web.Request, state: ServerState, broker: str, items: list[RequestImage], targets: EstimationTargets,
) -> list[dict[str, Any]]:
    """The estimates of ``items`` as ``CountResult.asDict()`` each; the estimator's failures as ``ApiError``."""
    try:
        results = await state.wb.aestimate(broker, items, targets)
    except UnknownEstimatorError as error:
        raise ApiError(404, ErrorCode.UNKNOWN_BROKER, str(error)) from None
    except PluginTimeoutError as error:
        raise ApiError(504, ErrorCode.TIMEOUT, str(error)) from None
    except EstimatorOutputError as error:
        # What was wrong with the answer is about the estimator's numbers, not the server: the client (often the
        # plugin's author) is told, as compare tells its user.
        raise ApiError(500, ErrorCode.ESTIMATOR_OUTPUT, f"{error}; the host refuses such results (see "
                       "workbench.host.EstimatorOutputError)") from None
    except Exception as error:
        name = state.wb.estimator_label(broker, state.wb.estimators.get(broker, "?"))
        state.logger.exception("estimator %r of %r failed (request %s)", name, broker, request[EXCHANGE].request_id)
        # The type only, as for plugin routes: the exception's text is in the log under the request id.
        raise ApiError(
            500, ErrorCode.INTERNAL,
            f"estimator {name!r} of {broker!r} failed with {type(error).__name__}; the server log has the details",
        ) from error
    return [result.asDict() for result in results]



def known_broker(state: ServerState, broker: str) -> str:
    if broker not in state.wb.estimators:
        raise ApiError(404, ErrorCode.UNKNOWN_BROKER, unknown_broker_message(broker, state.wb.estimators))
    return broker


def parse_targets_query(value: str) -> EstimationTargets:
    try:
        return parse_targets(value)
    except ValueError as error:
        raise ApiError(400, ErrorCode.BAD_PARAMETER, f"query parameter targets: {error}") from None


def parse_detect_area(value: str | None) -> Rect | None:
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



@dataclass(frozen=True)
class FilePart:
    """A file part of a multipart upload: its file name, its ``Content-Type`` (lower case, no parameters;
    ``""`` when it has none) and its bytes."""

    filename: str
    content_type: str
    data: bytes


async def read_file_parts(request: web.Request, state: ServerState, *, first_only: bool) -> list[FilePart]:
    """The top-level file parts of a multipart body in their order (only the first with ``first_only``); the whole
    body is read, at most ``max_body_size`` bytes of it. A malformed body is 400, a slow one 408."""
    if state.raw_bodies and request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
        raise ApiError(415, ErrorCode.BAD_BODY, "send a multipart upload without a Content-Encoding")
    files: list[FilePart] = []
    try:
        async with asyncio.timeout(state.read_timeout):
            await _file_parts(await request.multipart(), request.content, state.max_body_size, files, first_only)
    except TimeoutError:
        raise body_too_slow(state) from None
    except (ValueError, RuntimeError, *BODY_ERRORS) as error:
        raise ApiError(400, ErrorCode.BAD_BODY, f"the multipart body cannot be parsed: {error}") from None
    return files


async def _file_parts(
    reader: MultipartReader, stream: StreamReader, limit: int, files: list[FilePart] | None, first_only: bool,
) -> None:
    """Append the top-level file parts to ``files`` (``None``: read through); at most ``limit`` bytes in all.

    Every part is read here, chunk by chunk, rather than skipped by aiohttp (which reads a skipped part to its end
    unbounded): a chunked upload has no Content-Length to refuse it by, so the bytes received are counted.
    """
    while (part := await reader.next()) is not None:
        _check_received(stream, limit)  # also between parts: endless empty parts have no chunks
        if isinstance(part, MultipartReader):  # a nested multipart: read through; its files are not the upload
            await _file_parts(part, stream, limit, None, first_only)
            continue
        keep = files is not None and part.filename is not None and not (first_only and files)
        data = bytearray()
        while chunk := await part.read_chunk():
            _check_received(stream, limit)
            if keep:
                data += chunk
        if keep:
            assert files is not None and part.filename is not None
            media_type = part.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            files.append(FilePart(part.filename, media_type, bytes(data)))


def _check_received(stream: StreamReader, limit: int) -> None:
    if stream.total_bytes > limit:
        raise ApiError(
            413, ErrorCode.BODY_TOO_LARGE,
            f"the multipart body is over this server's limit of {limit} bytes (max_body_size)",
        )


