"""The app's outermost layer: Host and Origin allow-lists, the access token, body limits, security headers.

It runs before any route reads a byte of the body, so an unauthorised, cross-site or oversized request
costs only its headers: FastAPI parses a multipart upload (spooling it to /tmp) before the route runs,
and a chunked body has no Content-Length to check. Bodies are therefore counted as they arrive and
refused (413) as soon as they pass their limit. Threat model and limits: docs/security.md.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Host names a loopback server answers to; anything else is DNS rebinding (a hostile name resolving to 127.0.0.1).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The page loads nothing from elsewhere and is never framed; inline style attributes are used by its bars.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                 b"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the token may be in the page's URL
    (b"cross-origin-opener-policy", b"same-origin"),
]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes its limit; FastAPI passes HTTPExceptions through its
    body parsing, so the client gets a 413 and nothing more is read."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body larger than {limit // 1024} kB")


def host_name(host: str) -> str:
    """``Host`` header without its port, lower-case (``[::1]:8000`` -> ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` names the host:port it sent the request to (the scheme may differ
    behind a TLS proxy)."""
    return origin != "null" and urlsplit(origin).netloc.lower() == host.strip().lower()


def presented_token(scope: Scope, headers: Headers) -> str | None:
    """The token from ``Authorization: Bearer`` or ``?token=`` (the page's WebSocket can only use the latter)."""
    header = headers.get("authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


class RequestGuard:
    """ASGI middleware; ``body_limit(path)`` gives the most bytes a request to ``path`` may carry."""

    def __init__(self, app: ASGIApp, token: str | None, allowed_hosts: frozenset[str] | None,
                 body_limit: Callable[[str], int]):
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts
        self.body_limit = body_limit

    def refusal(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        """(status, reason) when the request must not reach the app."""
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            return 400, "unexpected Host header (this server answers to 127.0.0.1 and localhost only)"
        origin = headers.get("origin")
        checks_origin = scope["type"] == "websocket" or scope.get("method") in UNSAFE_METHODS
        if checks_origin and ((origin is not None and not same_origin(origin, host))
                              or headers.get("sec-fetch-site") == "cross-site"):
            return 403, "cross-origin request refused"
        if self.token is not None and scope["path"].startswith("/api"):
            given = presented_token(scope, headers)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, "access token required"
        if scope["type"] == "http":
            length = headers.get("content-length")
            if length is not None and not length.isdigit():
                return 400, "bad Content-Length"
            if length is not None and int(length) > self.body_limit(scope["path"]):
                return 413, f"request body larger than {self.body_limit(scope['path']) // 1024} kB"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refused = self.refusal(scope, headers)
        if refused is not None:
            if scope["type"] == "websocket":  # closing before accepting answers the handshake with 403
                await send({"type": "websocket.close", "code": 1008, "reason": refused[1]})
            else:
                await self.respond(send, *refused)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = self.body_limit(scope["path"])
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except BodyTooLarge as exc:  # raised where no FastAPI route turned it into a response
            if not started:
                await self.respond(send, exc.status_code, exc.detail)

    @staticmethod
    async def respond(send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close"), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})
