"""Headers every answer carries: what a browser may load for a page, and what it may not
guess or pass on.

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` on every answer
  (a route may set a stricter referrer policy of its own: the pass page sends none);
- on every HTML page a Content Security Policy: scripts, styles, fonts and connections
  from this server only, no inline script or style, images from here (and from the tile
  servers of the configured base map, `http.tiles`, only those), no plugins, and
  `frame-ancestors 'none'` (with the older `X-Frame-Options: DENY`), so no other site
  can frame a page to trick a click.

The pages keep to it: every script and style is a file under `/static/`.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page_policy(image_origins: tuple[str, ...] = ()) -> str:
    """The Content Security Policy of the HTML pages; `image_origins` are the map's tile
    servers (`BaseMap.image_origins`)."""
    images = " ".join(("'self'", "data:", *image_origins))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """ASGI middleware that adds the headers above to every HTTP answer."""

    def __init__(self, app: ASGIApp, image_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.policy = page_policy(image_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_ANSWER.items():
                    if name not in headers:
                        headers[name] = value
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = self.policy
                    headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, with_headers)
