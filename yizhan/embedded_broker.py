"""An MQTT broker inside the demo process (amqtt), for when no broker is configured."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """amqtt on its own event loop thread. Fine for a demo city; use Mosquitto in the field."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="amqtt", daemon=True)
        self._broker: Broker | None = None
        # amqtt logs every undeliverable message at INFO and above; the demo has many.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.ERROR)

    @property
    def url(self) -> str:
        """`mqtt://host:port` for clients."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start listening; raises if the port cannot be bound."""
        self._thread.start()
        future: Future[None] = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout)

    async def _start(self) -> None:
        self._broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            },
            loop=self._loop,
        )
        await self._broker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection and stop the loop."""
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception:
                log.exception("embedded broker did not shut down cleanly")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
