"""`yizhan workers` and `yizhan keys` on the central's database, and the key files."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.credential_payloads import MAX_PUBLIC_KEYS
from contract.tokens import KeyRing, verify_token, worker_number_of
from dashboard.core.config import CentralSettings
from dashboard.services.credentials import Credentials
from dashboard.services.signing_keys import KeyFileError
from dashboard.storage.migrations import open_database
from dashboard.storage.pass_links import hash_secret
from dashboard.storage.worker_store import WorkerStore
from tests.support.postgres import PostgresServer
from tests.support.running_central import RunningCentral
from tests.workers.support import enroll
from yizhan.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "workers.csv"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def database_bytes(settings: CentralSettings, request: pytest.FixtureRequest) -> bytes:
    """All the test central's database holds: the SQLite files (with the WAL), or a dump."""
    url = settings.database.resolved_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(file.read_bytes() for file in path.parent.glob(path.name + "*"))
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.dump(url)


def test_add_list_revoke_and_pass_link(
    config_file: Path,
    settings: CentralSettings,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    cfg = ("--config", str(config_file))
    code, out, _ = run(
        capsys,
        "workers",
        "add",
        *cfg,
        "--name",
        "刘洋",
        "--platform",
        "didi",
        "--group",
        "driver",
        "--card",
        "900",
        "--scope",
        "station:cs-0001",
    )
    assert code == 0
    worker_id = out.split("\t")[0]
    assert worker_id.startswith("w")
    code, out, _ = run(capsys, "workers", "pass-link", *cfg, worker_id)
    assert code == 0
    url = out.strip()
    assert url.startswith(f"http://127.0.0.1:{settings.http.port}/pass/")
    secret = url.rsplit("/", 1)[1]
    assert len(secret) >= 32
    # Only the hash is stored: the secret itself is nowhere in the database.
    db = database_bytes(settings, request)
    assert secret.encode() not in db
    assert hash_secret(secret).encode() in db
    code, out, _ = run(capsys, "workers", "revoke", *cfg, worker_id, "--reason", "lost phone")
    assert code == 0 and "revoked" in out
    store = WorkerStore(open_database(settings.database.resolved_url))
    try:
        number = worker_number_of(worker_id)
        assert number is not None
        (revocation,) = store.revocations([number]).values()
        assert (revocation.reason, revocation.revoked_by) == ("lost phone", None)
    finally:
        store.close()
    code, out, _ = run(capsys, "workers", "list", *cfg, "--status", "revoked")
    assert out.startswith(worker_id + "\trevoked\tdidi")
    code, _, err = run(capsys, "workers", "pass-link", *cfg, worker_id)
    assert code == 1 and "revoked" in err


def test_add_reports_bad_values(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "workers",
        "add",
        "--config",
        str(config_file),
        "--name",
        "x",
        "--platform",
        "uber",
        "--card",
        "12ab",
    )
    assert code == 1
    assert "platform" in err and "card_numbers" in err


def test_import_is_all_or_nothing(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ("--config", str(config_file))
    bad = tmp_path / "bad.csv"
    bad.write_text("display_name,platform\n好,meituan\n坏,uber\n,didi\n", encoding="utf-8")
    code, _, err = run(capsys, "workers", "import", *cfg, str(bad))
    assert code == 1
    assert "row 3, platform" in err and "row 4, display_name" in err
    assert "nothing was imported" in err
    assert run(capsys, "workers", "list", *cfg)[1] == ""
    code, out, _ = run(capsys, "workers", "import", *cfg, str(EXAMPLE))
    assert code == 0 and out.startswith("imported 4 workers")
    assert len(run(capsys, "workers", "list", *cfg)[1].splitlines()) == 4


def test_unknown_worker_and_missing_file(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ("--config", str(config_file))
    assert run(capsys, "workers", "revoke", *cfg, "w1")[0] == 1
    assert run(capsys, "workers", "revoke", *cfg, "nobody")[0] == 1
    assert run(capsys, "workers", "import", *cfg, str(tmp_path / "none.csv"))[0] == 1


def test_keys_list_and_rotate(
    config_file: Path, settings: CentralSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ("--config", str(config_file))
    code, out, _ = run(capsys, "keys", "list", *cfg)
    assert code == 0
    assert len(out.splitlines()) == 1 and "signing" in out
    code, out, _ = run(capsys, "keys", "rotate", *cfg)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("added key 2")
    assert "verifying" in lines[1] and "retires 20" in lines[1]
    assert "signing" in lines[2] and "retires -" in lines[2]


def test_private_keys_are_owner_only_files(settings: CentralSettings) -> None:
    credentials = Credentials(settings)
    try:
        files = sorted(settings.key_dir.glob("key-*.ed25519"))
        assert [f.name for f in files] == ["key-001.ed25519"]
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert stat.S_IMODE(settings.key_dir.stat().st_mode) == 0o700
        files[0].chmod(0o644)
        fresh = Credentials(settings)  # a new process: nothing loaded yet
        with pytest.raises(KeyFileError, match="chmod 600"):
            fresh.keys.private_key(1)
        fresh.stop()
    finally:
        credentials.stop()


def test_replicas_starting_at_once_make_one_first_key(settings: CentralSettings) -> None:
    together = threading.Barrier(3, timeout=30)
    made: list[Credentials] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            together.wait()
            made.append(Credentials(settings))
        except BaseException as error:
            failures.append(error)

    replicas = [threading.Thread(target=start) for _ in range(3)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(60)
    try:
        assert not failures, failures
        now = datetime.now(UTC)
        signers = {c.keys.signer_at(now) for c in made}
        assert {s.key_id for s in signers if s is not None} == {1}
        assert [f.name for f in settings.key_dir.glob("key-*")] == ["key-001.ed25519"]
    finally:
        for credentials in made:
            credentials.stop()


def test_a_key_file_the_database_does_not_know_is_named(settings: CentralSettings) -> None:
    settings.key_dir.mkdir(mode=0o700, parents=True)
    (settings.key_dir / "key-001.ed25519").write_bytes(b"\0" * 32)
    with pytest.raises(KeyFileError, match="the database does not know"):
        Credentials(settings)


def test_retired_keys_are_dropped_and_their_files_deleted(settings: CentralSettings) -> None:
    credentials = Credentials(settings)
    try:
        now = datetime.now(UTC)
        first = credentials.keys.signer_at(now)
        assert first is not None
        credentials.keys.rotate(now)
        signer = credentials.keys.signer_at(now)
        assert signer is not None and signer.key_id == 2
        ring = KeyRing.of([first.trusted(), signer.trusted()])
        overlap_end = now + timedelta(seconds=settings.credentials.rotation_overlap_s)
        assert [e.key_id for e in credentials.keys.published_entries(overlap_end)] == [2]
        assert credentials.keys.prune(overlap_end) == [1]
        assert not (settings.key_dir / "key-001.ed25519").exists()
        # A two-phase rotation: the old key signs until the lead time is over.
        credentials.keys.rotate(now, lead=timedelta(hours=1))
        current = credentials.keys.signer_at(now)
        assert current is not None and current.key_id == 2
        upcoming = credentials.keys.signer_at(now + timedelta(hours=1))
        assert upcoming is not None and upcoming.key_id == 3
        assert ring.usable(2, now) is not None
        assert isinstance(verify_token("x", ring, now), Exception)
    finally:
        credentials.stop()


def test_rotation_stops_at_the_keys_one_published_list_holds(central: RunningCentral) -> None:
    for _ in range(MAX_PUBLIC_KEYS - 1):
        assert central.http.post("/api/keys/rotate").status_code == 201
    refused = central.http.post("/api/keys/rotate")
    assert refused.status_code == 409 and "still trusted" in refused.json()["detail"]
    assert len(central.http.get("/api/keys").json()) == MAX_PUBLIC_KEYS
    # The keys that are trusted still go out, so changes to workers are published too.
    assert enroll(central.http)["status"] == "active"
