"""A PostgreSQL server for tests: a throwaway cluster from Debian's binaries, or one named
by `YIZHAN_TEST_POSTGRES_URL` (for example `postgresql://postgres@127.0.0.1:5432/postgres`).

Each test gets a database of its own, created from the server's template and dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.mosquitto import free_port, wait_for_port
from tests.support.processes import children_by_parent, stat_fields
from tests.support.waiting import wait_until

INSTALL_HINT = (
    "PostgreSQL is required for these tests and was not found. Install it with: "
    "apt-get update && apt-get install -y postgresql (scripts/test does this for you), "
    "or point YIZHAN_TEST_POSTGRES_URL at a server you may create databases on."
)
ENV_URL = "YIZHAN_TEST_POSTGRES_URL"


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    """A server that tests may create databases on."""

    admin_url: str
    directory: Path | None = None
    _as_user: list[str] | None = None
    _bin: Path | None = None
    _options: str = ""

    @classmethod
    def start(cls) -> PostgresServer:
        """Use `YIZHAN_TEST_POSTGRES_URL`, or start a throwaway cluster on a free port."""
        url = os.environ.get(ENV_URL)
        if url:
            return cls(url)
        return cls.throwaway()

    @classmethod
    def throwaway(cls, crash_safe: bool = False) -> PostgresServer:
        """A new cluster of its own on a free port, which a test may kill and restart.

        `crash_safe` keeps every commit across a `kill -9` of the server (commits wait for
        their write-ahead log to be written, as by default); otherwise the last commits
        may be lost then, which a test only of speed does not mind.
        """
        return cls.in_directory(Path(tempfile.mkdtemp(prefix="yizhan-pg-")), crash_safe)

    @classmethod
    def in_directory(
        cls, directory: Path, crash_safe: bool = False, settings: str = ""
    ) -> PostgresServer:
        """A cluster in `directory` (made there first if it holds none), started on a
        free port, with `settings` added to the server's own (`-c name=value ...`)."""
        binaries = _binaries()
        directory.mkdir(parents=True, exist_ok=True)
        as_user: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root; Debian's package brings the postgres user.
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(INSTALL_HINT) from None
            os.chown(directory, user.pw_uid, user.pw_gid)
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            as_user = [runuser, "-u", "postgres", "--"]
        data = directory / "data"
        if not data.exists():
            initdb = [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
            subprocess.run(
                [*as_user, *initdb],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                env={**os.environ, "LC_ALL": "C.UTF-8"},
            )
        port = free_port()
        options = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 "
            # A test cluster: surviving a crash of the machine buys nothing, speed does.
            "-c fsync=off -c full_page_writes=off -c max_connections=300"
            + ("" if crash_safe else " -c synchronous_commit=off")
            + (f" {settings}" if settings else "")
        )
        server = cls(
            f"postgresql://postgres@127.0.0.1:{port}/postgres",
            directory,
            as_user,
            binaries,
            options,
        )
        server.start_again()
        return server

    def start_again(self) -> None:
        """Start a throwaway cluster's server (again, after `kill`), on the same port."""
        assert self.directory is not None and self._bin is not None, "not a throwaway cluster"
        subprocess.run(
            [
                *(self._as_user or []),
                str(self._bin / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-o",
                self._options,
                "-l",
                str(self.directory / "server.log"),
                "-w",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = int(self.admin_url.rpartition(":")[2].partition("/")[0])
        if not wait_for_port(port, 30):
            raise RuntimeError(f"PostgreSQL did not start; see {self.directory / 'server.log'}")

    def kill(self) -> None:
        """Kill a throwaway cluster's server at once (`kill -9` of the postmaster), as a
        crash would; its backends end with it. `start_again` recovers it."""
        assert self.directory is not None, "not a throwaway cluster"
        pid_file = self.directory / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        # The backends too, as in a crash of the machine: a new server cannot start while
        # orphaned backends hold the old one's shared memory.
        for pid in [postmaster, *children_by_parent().get(postmaster, [])]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _alive(postmaster), 30, "the killed PostgreSQL to exit")

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"yz_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    def drop_database(self, url: str) -> None:
        """Drop a database made by `create_database`, closing what still uses it."""
        import psycopg

        name = url.rpartition("/")[2]
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def dump(self, url: str) -> bytes:
        """Everything a database holds, as `pg_dump` writes it (schema and rows)."""
        binary = self._bin or _binaries()
        return subprocess.run(
            [str(binary / "pg_dump"), "--dbname", url], check=True, capture_output=True
        ).stdout

    def stop(self, keep: bool = False) -> None:
        """Stop a cluster of this process's own and delete it, or with `keep` shut it
        down cleanly and leave its data for the next start; a configured server is left
        alone."""
        if self.directory is None or self._bin is None:
            return
        subprocess.run(
            [
                *(self._as_user or []),
                str(self._bin / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "fast" if keep else "immediate",
                "-w",
                "stop",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not keep:
            shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    # A zombie (reaped by init, not by us) is gone for our purpose.
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"
