"""A station site for fault tests, all real: a private Mosquitto, the central and gateways as
separate `yizhan` processes, scanners on pseudo-terminals, SQLite files on disk.

Each scan is a real signed QR token for a worker number of its own, issued by a site key
that the gateway trusts from its state directory, so the expected set of access events
is known exactly: one per token scanned, each naming its worker. `check_exact` compares
the central's database with it.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from contract.credential_payloads import PublicKeyEntry, PublicKeys
from contract.payloads import utc_now
from contract.tokens import SigningKey, issue_token
from hardware.profile import BoardProfile
from hardware.sim.scanner import VirtualScanner
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.relay import TcpRelay
from tests.support.service_process import ServiceProcess
from tests.support.waiting import wait_until

STATION = "cs-0001"
RELAY_PIN = 17
SITE_KEY_ID = 200
"""Apart from the ids of the central's own keys, whose (older) list the gateway ignores."""


def write_trust(state_dir: Path, key: SigningKey) -> None:
    """Give a gateway the site key, as if the central had published it (a newer list)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    keys = PublicKeys(
        version=1_000_000,
        issued_at=utc_now(),
        keys=[
            PublicKeyEntry(
                key_id=key.key_id,
                public_key=base64.b64encode(key.public_key_bytes()).decode(),
            )
        ],
    )
    document = {"format": 1, "keys": json.loads(keys.to_json())}
    (state_dir / "trust.json").write_text(json.dumps(document), encoding="utf-8")


def token_for(key: SigningKey, worker_number: int) -> str:
    """A fresh token of one worker, as the phone page shows it."""
    return issue_token(
        key, worker_number=worker_number, not_before=utc_now() - timedelta(seconds=1)
    )


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a database another process writes (WAL)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


@dataclass
class SiteGateway:
    """One gateway process, its scanner, and every code scanned at it."""

    gateway_id: str
    directory: Path
    broker_port: int
    first_worker: int
    key: SigningKey
    replay_rate: float
    scanner: VirtualScanner = field(default_factory=VirtualScanner)
    scanned: list[str] = field(default_factory=list)
    process: ServiceProcess | None = None

    @property
    def outbox(self) -> Path:
        """The gateway's outbox file."""
        return self.directory / f"{self.gateway_id}-outbox.db"

    def write_config(self) -> Path:
        """The gateway's TOML file and board profile; its state directory trusts the key."""
        path = self.directory / f"{self.gateway_id}.toml"
        state = self.directory / f"{self.gateway_id}-state"
        write_trust(state, self.key)
        board = self.directory / f"{self.gateway_id}-board.toml"
        # One door with its relay and one entry scanner on the test's pty.
        board.write_text(
            f"""
[board]
model = "fault test"

[[doors]]
id = "main"

[doors.relay]
pin = 17
polarity = "fail_safe"

[doors.contact]
pin = 27
active_high = true
pull = "down"

[[scanners]]
id = "in"
port = "{self.scanner.port}"
door = "main"
direction = "in"
""",
            encoding="utf-8",
        )
        path.write_text(
            f"""
station_id = "{STATION}"
gateway_id = "{self.gateway_id}"
profile = "{board}"
state_dir = "{state}"

[broker]
url = "mqtt://127.0.0.1:{self.broker_port}"
reconnect_min_s = 0.2
reconnect_max_s = 2.0

[doors.main]
unlock_s = 0.05

[outbox]
path = "{self.outbox}"
replay_rate = {self.replay_rate}
""",
            encoding="utf-8",
        )
        return path

    def start(self) -> None:
        """Start (or restart) the gateway process; returns once its scanner is open."""
        if self.process is None:
            self.process = ServiceProcess(
                "gateway",
                self.write_config(),
                self.directory / f"{self.gateway_id}.log",
                ready="running",
            )
        self.process.start()

    def scan(self, count: int, interval_s: float = 0.0) -> None:
        """`count` workers scan fresh tokens, one every `interval_s` (at once when 0)."""
        start = len(self.scanned)
        began = time.monotonic()
        for n in range(start, start + count):
            if interval_s:
                # Pace scans against the start time, so slow writes do not stretch the run.
                delay = began + (n - start) * interval_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            worker = self.first_worker + n
            self.scanner.scan(token_for(self.key, worker))
            self.scanned.append(f"w{worker}")

    def committed(self) -> int:
        """How many events the gateway has committed to its outbox (next seq - 1)."""
        if not self.outbox.exists():
            return 0
        with read_only(self.outbox) as db:
            row = db.execute("SELECT value FROM state WHERE key = 'next_seq'").fetchone()
        return 0 if row is None else int(row[0]) - 1

    def holds(self, worker: str) -> bool:
        """Whether the outbox holds an access event of `worker`, not yet acknowledged."""
        with read_only(self.outbox) as db:
            query = "SELECT 1 FROM outbox WHERE kind = 'access' AND CAST(payload AS TEXT) LIKE ?"
            return db.execute(query, (f'%"worker_id":"{worker}"%',)).fetchone() is not None

    def waiting(self, kind: str | None = None) -> int:
        """Events (of one `kind`, or all) in the outbox that the broker has not
        acknowledged yet."""
        with read_only(self.outbox) as db:
            query = "SELECT count(*) FROM outbox WHERE ? IS NULL OR kind = ?"
            return int(db.execute(query, (kind, kind)).fetchone()[0])

    def close(self) -> None:
        """Stop the process if it runs, unplug the scanner."""
        if self.process is not None and self.process.process is not None:
            self.process.stop()
        self.scanner.close()


@dataclass
class Site:
    """A broker, the central (one replica or several) and gateways, each in its own
    directory and process."""

    directory: Path
    broker: MosquittoBroker
    centrals: list[ServiceProcess]
    database_url: str
    http_ports: list[int]
    gateways: list[SiteGateway]
    relay: TcpRelay | None = None

    @property
    def central(self) -> ServiceProcess:
        """The first (or only) central replica."""
        return self.centrals[0]

    @classmethod
    def build(
        cls,
        directory: Path,
        gateway_ids: list[str],
        replay_rate: float = 200.0,
        relay: bool = False,
        gap_after_s: float = 30.0,
        broker_config: str = "",
        database_url: str | None = None,
        replicas: int = 1,
        share_group: str | None = None,
    ) -> Site:
        """Write the configs; `start()` runs everything. `broker_config` is added to the
        broker's own lines. The central stores in a SQLite file of the site unless
        `database_url` names a PostgreSQL database, which `replicas` share; with a
        `share_group` they share the gateways' events too (`replicas.share_group`)."""
        directory.mkdir(parents=True, exist_ok=True)
        ports: set[int] = set()
        while len(ports) < 2 + replicas:
            # Nothing listens on these yet, so one port could come back twice. They are
            # listened on again after an outage, so no outgoing connection may take them.
            ports.add(free_port())
        broker_port, relay_port, *http_ports = sorted(ports)
        broker = MosquittoBroker(directory, broker_port, broker_config, persistence=True)
        # On PostgreSQL the path only places the keys and photos, which replicas share.
        database = f'path = "{directory / "central.db"}"'
        if database_url:
            database += f'\nurl = "{database_url}"'
        sharing = f'[replicas]\nshare_group = "{share_group}"' if share_group else ""
        centrals = []
        for n, http_port in enumerate(http_ports, start=1):
            config = directory / f"central-{n}.toml"
            config.write_text(
                f"""
central_id = "central-{n}"

[broker]
url = "mqtt://127.0.0.1:{broker.port}"
reconnect_min_s = 0.2
reconnect_max_s = 2.0

[http]
host = "127.0.0.1"
port = {http_port}

[database]
{database}

[alerts]
gap_after_s = {gap_after_s}

{sharing}
""",
                encoding="utf-8",
            )
            log = directory / ("central.log" if replicas == 1 else f"central-{n}.log")
            centrals.append(ServiceProcess("central", config, log, ready="central on"))
        tcp_relay = TcpRelay(relay_port, broker.port) if relay else None
        gateway_port = tcp_relay.port if tcp_relay else broker.port
        key = SigningKey.generate(SITE_KEY_ID)
        gateways = [
            SiteGateway(gid, directory, gateway_port, 100_000 * (n + 1), key, replay_rate)
            for n, gid in enumerate(gateway_ids)
        ]
        url = database_url or f"sqlite:///{directory / 'central.db'}"
        return cls(directory, broker, centrals, url, http_ports, gateways, tcp_relay)

    def start(self) -> None:
        """Broker, relay, the central's replicas, then the gateways."""
        self.broker.start()
        if self.relay is not None:
            self.relay.start()
        for central in self.centrals:
            central.start()
        for gateway in self.gateways:
            gateway.start()

    def close(self) -> None:
        """Stop everything that still runs."""
        for gateway in self.gateways:
            gateway.close()
        for central in self.centrals:
            if central.process is not None:
                central.stop()
        if self.relay is not None:
            self.relay.cut()
        self.broker.stop()

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """What a query (with `?` placeholders) returns from the central's database, read
        beside the processes that write it."""
        if self.database_url.startswith("postgresql://"):
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as db:
                return list(db.execute(sql.replace("?", "%s"), params).fetchall())
        path = Path(self.database_url.removeprefix("sqlite:///"))
        if not path.exists():
            return []
        with read_only(path) as db:
            return list(db.execute(sql, params).fetchall())

    def stored_access(self, gateway_id: str) -> int:
        """Access events of one gateway in the central's database."""
        rows = self.rows(
            "SELECT count(*) FROM events WHERE kind = 'access' AND gateway_id = ?", (gateway_id,)
        )
        return int(rows[0][0]) if rows else 0

    def stored_worker(self, gateway_id: str, worker: str) -> bool:
        """Whether the central holds an access event of `worker` from this gateway."""
        return bool(
            self.rows(
                "SELECT 1 FROM events WHERE kind = 'access' AND gateway_id = ? AND payload LIKE ?",
                (gateway_id, f'%"worker_id":"{worker}"%'),
            )
        )

    def wait_delivered(self, timeout: float) -> float:
        """Wait until every scan is stored and every outbox is empty; the seconds it took."""
        began = time.monotonic()
        deadline = began + timeout
        while True:
            done = all(
                self.stored_access(g.gateway_id) >= len(g.scanned) and g.waiting() == 0
                for g in self.gateways
            )
            if done:
                return time.monotonic() - began
            if time.monotonic() > deadline:
                progress = {
                    g.gateway_id: (self.stored_access(g.gateway_id), len(g.scanned), g.waiting())
                    for g in self.gateways
                }
                raise AssertionError(
                    f"not delivered in {timeout:.0f} s: gateway → (stored, scanned, waiting) "
                    f"{progress}; logs in {self.directory}"
                )
            # Two processes write these files; polling them is the only signal there is.
            time.sleep(0.1)

    def wait_alerts_resolved(self, timeout: float) -> None:
        """Wait until no alert is open: an outage's alert is resolved by the periodic
        checks after it ended, on every replica that saw it."""
        sql = "SELECT kind, station_id, gateway_id, detail FROM alerts WHERE resolved_at IS NULL"
        try:
            wait_until(lambda: not self.rows(sql), timeout, "every alert to be resolved")
        except AssertionError as error:
            raise AssertionError(f"{error}; still open: {self.rows(sql)}") from None

    def check_exact(self) -> None:
        """The central holds every scan's event exactly once, and nothing else; the
        station's count is the number of people who came in."""
        for gateway in self.gateways:
            rows = self.rows(
                "SELECT kind, seq, payload FROM events WHERE gateway_id = ? ORDER BY seq",
                (gateway.gateway_id,),
            )
            workers = [json.loads(p)["worker_id"] for k, _, p in rows if k == "access"]
            expected = gateway.scanned
            duplicated = [w for w, n in Counter(workers).items() if n > 1]
            assert not duplicated, f"{gateway.gateway_id}: stored twice: {duplicated[:5]}"
            missing = sorted(set(expected) - set(workers))
            assert not missing, f"{gateway.gateway_id}: {len(missing)} missing: {missing[:5]}"
            extra = sorted(set(workers) - set(expected))
            assert not extra, f"{gateway.gateway_id}: unexpected: {extra[:5]}"
            seqs = [seq for _, seq, _ in rows]
            assert seqs == list(range(1, len(seqs) + 1)), (
                f"{gateway.gateway_id}: sequence numbers are not 1..{len(seqs)} exactly once"
            )
        open_alerts = self.rows("SELECT kind, detail FROM alerts WHERE resolved_at IS NULL")
        assert open_alerts == [], f"alerts left open: {open_alerts}"
        came_in = sum(len(g.scanned) for g in self.gateways)
        assert self.rows("SELECT occupancy FROM stations WHERE id = ?", (STATION,)) == [
            (came_in,)
        ], "the station's count is not the number of people who came in"


def one_door_board(scanner_port: str | None = None) -> BoardProfile:
    """A board with one door `main` (relay on GPIO17, contact on GPIO27) and optionally
    an entry scanner, for gateways run inside the test process."""
    return BoardProfile.model_validate(
        {
            "board": {"model": "test station"},
            "doors": [
                {
                    "id": "main",
                    "relay": {"pin": RELAY_PIN, "polarity": "fail_safe"},
                    "contact": {"pin": 27, "active_high": True, "pull": "down"},
                }
            ],
            "scanners": (
                [{"id": "in", "port": scanner_port, "door": "main", "direction": "in"}]
                if scanner_port
                else []
            ),
        }
    )
