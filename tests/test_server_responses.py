"""A plugin route's answer as an HTTP response: every header set is checked, the cache of checked sets included."""
from __future__ import annotations

import pytest

from workbench.plugins import pluginHTTPResponse
from workbench.server import _plugin_routes
from workbench.server._plugin_routes import BadPluginResponse, to_web_response

BAD_HEADERS = [
    ({"X-Evil": "a\r\nSet-Cookie: stolen=1"}, "CR, LF, NUL or non-ASCII"),
    ({"X-Evil": "a\nb"}, "CR, LF, NUL or non-ASCII"),
    ({"X-Evil": "a\x00b"}, "CR, LF, NUL or non-ASCII"),
    ({"X-Evil": "caf\u00e9"}, "CR, LF, NUL or non-ASCII"),
    ({"Bad Name": "x"}, "not a valid HTTP header name"),
    ({"X-Ok": "1", "Content-Length": "3"}, "set by the server"),
    ({"transfer-encoding": "chunked"}, "set by the server"),
]


@pytest.mark.parametrize(("headers", "message"), BAD_HEADERS)
def test_bad_headers_are_refused_every_time(headers, message):
    for _ in range(2):  # a refused set is never remembered as checked
        with pytest.raises(BadPluginResponse, match=message):
            to_web_response(pluginHTTPResponse(body="x", headers=headers))


def test_a_checked_header_set_answers_the_same_twice():
    first = to_web_response(pluginHTTPResponse(body="pong", headers={"X-Plugin": "yes"}))
    second = to_web_response(pluginHTTPResponse(body=b"\x00", headers={"X-Plugin": "yes"}))
    assert first.headers["X-Plugin"] == second.headers["X-Plugin"] == "yes"
    # Content-Type follows each answer's body, not the first answer that used the same headers.
    assert first.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert second.headers["Content-Type"] == "application/octet-stream"


def test_a_value_that_prints_differently_is_checked_again():
    class Shifty:
        """A header value whose text changes: only plain str sets may be remembered as checked."""

        calls = 0

        def __str__(self) -> str:
            Shifty.calls += 1
            return "fine" if Shifty.calls == 1 else "a\r\nSet-Cookie: stolen=1"

        def __hash__(self) -> int:
            return 1

    value = Shifty()
    assert to_web_response(pluginHTTPResponse(headers={"X-Shifty": value})).headers["X-Shifty"] == "fine"
    with pytest.raises(BadPluginResponse, match="CR, LF"):
        to_web_response(pluginHTTPResponse(headers={"X-Shifty": value}))


def test_unhashable_values_are_checked_as_text():
    response = to_web_response(pluginHTTPResponse(headers={"X-List": [1, 2]}))
    assert response.headers["X-List"] == "[1, 2]"


def test_the_cache_of_checked_sets_stays_bounded():
    for i in range(3 * _plugin_routes._CHECKED_LIMIT):
        to_web_response(pluginHTTPResponse(headers={"ETag": f'"{i}"'}))
    assert len(_plugin_routes._CHECKED) <= _plugin_routes._CHECKED_LIMIT


@pytest.mark.parametrize("status", [99, 600, True, "200", None])
def test_bad_status_codes_are_refused(status):
    with pytest.raises(BadPluginResponse, match="statusCode"):
        to_web_response(pluginHTTPResponse(statusCode=status))


def test_headers_must_be_a_dict():
    answer = pluginHTTPResponse()
    answer.headers = [("X-A", "1")]
    with pytest.raises(BadPluginResponse, match="dict of str to str"):
        to_web_response(answer)


@pytest.mark.parametrize("body", [{"count": 3}, [1, 2], 3])
def test_a_body_the_service_cannot_send_is_refused_with_what_to_send(body):
    """Issue 28, finding 13: a dict body was JSON-encoded here, though the service's web framework sends str and
    bytes bodies only (its docs answer text with a content type): such a route passed here and fails there."""
    with pytest.raises(BadPluginResponse, match=r"str or bytes bodies only: answer json.dumps\(body\)"):
        to_web_response(pluginHTTPResponse(body=body, headers={"Content-Type": "application/json"}))
    assert to_web_response(pluginHTTPResponse(body='{"count": 3}')).body == b'{"count": 3}'
