"""Who may use the server: a token off loopback, ``Host`` checked against DNS rebinding, foreign ``Origin``s refused.

A web page the user happens to open is as much the attacker here as a remote client: it can send requests to
a server on 127.0.0.1 (a form's ``text/plain`` POST needs no CORS preflight) and, by DNS rebinding (its own
host name re-pointed at 127.0.0.1), read the answers. So:

- a token (``Authorization: Bearer <token>``) is required when one is set; ``start_server`` sets one for every
  address off loopback unless told ``insecure_no_token=True`` (``exposure``);
- the ``Host`` header must name the loopback (``localhost``, ``127.0.0.1``, ``[::1]``) or a name in
  ``allowed_hosts`` (``"*"``: any): a rebound name is refused;
- the built-in routes refuse an ``Origin`` other than the server's own or one in ``allowed_origins``, and the one
  that changes state (estimator switching) takes ``application/json`` only (``require_json``), which a page of
  another origin cannot send without a preflight this server never grants.

Plugin routes get the token and ``Host`` checks, which are the server's, and not the ``Origin`` and JSON ones:
what a plugin route does is the plugin's to guard (``docs/serving.md``).
"""
from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from aiohttp import web

from ._errors import ApiError, ErrorCode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ANY_HOST = "*"
"""In ``allowed_hosts``: any ``Host`` header (the token then guards the server alone)."""
ANY_ORIGIN = "*"
"""In ``allowed_origins``: a page of any origin may use the built-in routes."""
MIN_TOKEN_LENGTH = 16
# Accepted Host values are remembered (one set lookup per request instead of parsing); at most this many, so
# that a client sending endless ports cannot grow the set.
_REMEMBERED_HOSTS = 64


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to listen on, or a ``Host`` header's name) is this machine's loopback."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: never resolved to another machine
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A random token of 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


@dataclass
class Access:
    """The checks of one application; ``build_app`` makes it from its ``token``, ``allowed_hosts`` and
    ``allowed_origins``."""

    token: str | None
    # Host names besides the loopback's (ANY_HOST among them: any Host).
    hosts: frozenset[str]
    origins: frozenset[str]
    _accepted_hosts: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def of(cls, token: str | None, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]) -> "Access":
        """Checked options as an ``Access``; a bad one raises ``ValueError`` (``TypeError`` for a wrong type)."""
        hosts = frozenset(_host_name(name) for name in _strings(allowed_hosts, "allowed_hosts"))
        origins = frozenset(_origin(origin) for origin in _strings(allowed_origins, "allowed_origins"))
        return cls(_checked_token(token), hosts, origins)

    def check(self, request: web.BaseRequest, *, built_in: bool) -> None:
        """Raise ``ApiError`` (403 for the Host or Origin, 401 for the token) when ``request`` may not be served."""
        headers = request.headers
        host = headers.get("Host")
        if host is not None and host not in self._accepted_hosts and ANY_HOST not in self.hosts:
            self._check_host(host)
        if self.token is not None:
            _check_token(self.token, headers.get("Authorization"))
        if built_in:
            origin = headers.get("Origin")
            if origin is not None and origin not in self.origins and ANY_ORIGIN not in self.origins:
                _check_origin(origin, host)

    def _check_host(self, host: str) -> None:
        name = _name_in_host_header(host)
        if not (is_loopback(name) or name in self.hosts):
            allowed = ", ".join(["localhost", "127.0.0.1", "[::1]", *sorted(self.hosts)])
            raise ApiError(
                403, ErrorCode.FOREIGN_HOST,
                f"the Host header {host!r} names none of this server's names ({allowed}): a web page's own name "
                "re-pointed at this machine (DNS rebinding) would look like this. Use one of those names, or allow "
                "this one with allowed_hosts=[...] (workbench serve --allowed-host NAME)",
            )
        if len(self._accepted_hosts) < _REMEMBERED_HOSTS:
            self._accepted_hosts.add(host)



def guarded(access: Access, handler: Handler, *, built_in: bool) -> Handler:
    """``handler``, run only for requests ``access`` lets through (``ApiError`` otherwise)."""

    @functools.wraps(handler)
    async def guard(request: web.Request) -> web.StreamResponse:
        access.check(request, built_in=built_in)
        return await handler(request)

    return guard


def require_json(request: web.BaseRequest, example: str) -> None:
    """Refuse (415) a body that is not ``application/json``: a route that changes state takes JSON only, which a web
    page of another origin cannot send without a CORS preflight (a ``text/plain`` form post needs none)."""
    if request.content_type != "application/json":
        sent = request.headers.get("Content-Type") or "no Content-Type"
        raise ApiError(
            415, ErrorCode.NOT_JSON,
            f"{request.method} {request.path} changes the server's state and takes JSON only: send {example} with "
            f"Content-Type: application/json (got {sent})",
        )


def exposure(
    host: str, token: str | None, insecure_no_token: bool, allowed_hosts: Iterable[str], logger: logging.Logger
) -> tuple[str | None, list[str]]:
    """The token and allowed hosts for a server listening on ``host``.

    On loopback: as given (no token unless one is given). Off loopback: the token given, else a new one, unless
    ``insecure_no_token``; and any ``Host`` unless ``allowed_hosts`` names some (clients use whatever name reaches
    the machine; the token is what guards it).
    """
    hosts = list(_strings(allowed_hosts, "allowed_hosts"))
    if not isinstance(insecure_no_token, bool):
        raise TypeError(f"insecure_no_token must be True or False, got {insecure_no_token!r}")
    if insecure_no_token and token is not None:
        raise ValueError("give either a token or insecure_no_token=True, not both")
    if is_loopback(host):
        return token, hosts
    if insecure_no_token:
        logger.warning(
            "serving on %s without a token (insecure_no_token): anyone who can reach this address can use every "
            "route, switch estimators where allowed and read /health", host,
        )
        return None, hosts or [ANY_HOST]
    logger.warning(
        "serving on %s, off loopback: every request needs the header 'Authorization: Bearer <token>' (the token "
        "workbench serve prints, or handle.token)", host,
    )
    return (new_token() if token is None else token), hosts or [ANY_HOST]


def _strings(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list of strings, got {values!r}")
    listed = list(values)
    for value in listed:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{what} must hold non-empty strings, got {value!r}")
    return listed


def _checked_token(token: str | None) -> str | None:
    if token is None:
        return None
    if not isinstance(token, str):
        raise TypeError(f"token must be a string, got {type(token).__name__}")
    if len(token) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError(
            f"token must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without spaces (a short token is "
            "guessed); leave it out and one is made for you (workbench serve prints it)"
        )
    return token


def _host_name(name: str) -> str:
    cleaned = name.strip().lower().rstrip(".")
    if cleaned == ANY_HOST:
        return cleaned
    if "/" in cleaned or " " in cleaned or (":" in cleaned and not _is_ipv6(cleaned)):
        raise ValueError(
            f"allowed_hosts: {name!r} is not a host name; give the name alone, as a Host header has it without its "
            "port: 'myhost.example', '10.0.0.5' or '::1'"
        )
    return cleaned.strip("[]")


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.strip("[]")).version == 6
    except ValueError:
        return False


def _name_in_host_header(host: str) -> str:
    """The name of a ``Host`` header, without its port and brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return (name if colon and port.isdigit() else host).rstrip(".")


def _origin(origin: str) -> str:
    cleaned = origin.strip().lower().rstrip("/")
    if cleaned == ANY_ORIGIN:
        return cleaned
    scheme, separator, rest = cleaned.partition("://")
    if scheme not in ("http", "https") or not separator or not rest or "/" in rest:
        raise ValueError(
            f"allowed_origins: {origin!r} is not an origin; give the scheme, host and port a browser sends in "
            "its Origin header: 'http://localhost:8888'"
        )
    return cleaned


def _check_token(token: str, authorization: str | None) -> None:
    scheme, _, sent = (authorization or "").strip().partition(" ")
    # Compared in constant time: how long a refusal takes says nothing about how much of the token was right.
    if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode("utf-8", "surrogateescape"),
                                                         token.encode()):
        return
    said = "has no token" if not authorization else "has a token that is not this server's"
    raise ApiError(
        401, ErrorCode.UNAUTHORIZED,
        f"the request {said}: this server requires the header 'Authorization: Bearer <token>' (workbench serve "
        "printed its token at start; give your own with --token or $WORKBENCH_TOKEN, or token= in Python)",
        headers={"WWW-Authenticate": 'Bearer realm="workbench"'},
    )


def _check_origin(origin: str, host: str | None) -> None:
    # The server's own pages (a plugin route's HTML) send the origin of the address they were loaded from.
    _, _, address = origin.lower().partition("://")
    if host is not None and address == host.strip().lower():
        return
    raise ApiError(
        403, ErrorCode.FOREIGN_ORIGIN,
        f"requests from web pages of {origin!r} are refused: a page of another site must not drive this server. "
        "Allow that origin with allowed_origins=[...] (workbench serve --allowed-origin ORIGIN)",
    )
