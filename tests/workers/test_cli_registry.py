"""The command line and the station registry: no `yizhan workers|keys|operators` command
changes a station row it was not asked to change, a command that finds no database says
so and creates nothing, and `yizhan stations import` seeds the registry, all or none; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dashboard.core.config import CentralSettings
from dashboard.storage.db import Database
from yizhan.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REGISTRY_TABLES = ("stations", "station_zones", "doors", "station_numbers", "gateways")

Rows = dict[str, list[tuple[object, ...]]]


def registry(url: str) -> Rows:
    """Every row of the registry's tables."""
    database = Database(url)
    try:
        with database.connection() as db:
            return {
                table: [tuple(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
                for table in REGISTRY_TABLES
            }
    finally:
        database.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_worker_key_or_operator_command_touches_the_registry(
    config_file: Path,
    settings: CentralSettings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = settings.database.resolved_url
    before = registry(url)
    assert [r[0] for r in before["stations"]] == ["cs-0001", "cs-0002", "sz-0001"]
    cfg = ("--config", str(config_file))
    code, out, err = run(
        capsys, "workers", "add", *cfg, "--name", "王芳", "--platform", "eleme",
        "--scope", "station:cs-0002",
    )  # fmt: skip
    assert code == 0, err
    worker_id = out.split("\t", 1)[0]
    csv = tmp_path / "workers.csv"
    csv.write_text("display_name,platform,scope\n赵六,meituan,region:430102\n", encoding="utf-8")
    commands = [
        ("workers", "list", *cfg),
        ("workers", "import", *cfg, str(csv)),
        ("workers", "pass-link", *cfg, worker_id),
        ("workers", "revoke", *cfg, worker_id),
        ("keys", "list", *cfg),
        ("keys", "rotate", *cfg),
        ("operators", "add", *cfg, "--name", "ops", "--role", "operator"),
        ("operators", "list", *cfg),
    ]
    for argv in commands:
        code, _, err = run(capsys, *argv)
        assert code == 0, f"{argv}: {err}"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-new-password\n"))
    code, out, err = run(capsys, "operators", "passwd", *cfg, "--name", "ops", "--password-stdin")
    assert code == 0, err
    assert "password changed" in out

    # A configuration that still lists other stations is refused before anything opens.
    old = tmp_path / "old.toml"
    old.write_text(
        config_file.read_text(encoding="utf-8")
        + '\n[[stations]]\nid = "demo-01"\nname = "另一个"\nnumber = 1\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "workers", "list", "--config", str(old))
    assert code == 2
    assert "stations:" in err and "yizhan stations import" in err

    assert registry(url) == before


@pytest.mark.parametrize(
    "argv",
    [
        ("workers", "list"),
        ("workers", "pass-link", "w1"),
        ("keys", "list"),
        ("operators", "list"),
        ("operators", "add", "--name", "root", "--role", "admin"),
        ("stations", "list"),
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_a_command_without_a_database_says_so_and_creates_nothing(
    argv: tuple[str, ...],
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    config = tmp_path / "central.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")

    code, _, err = run(capsys, *argv[:2], "--config", str(config), *argv[2:])
    assert code == 2
    assert database_url in err and "database.url" in err and "nothing was created" in err
    # Without --config, the default path is named, and neither it nor ./keys appears.
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert str(workdir / "yizhan.db") in err and "database.path" in err
    assert list(workdir.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["central.toml", "work"]
    database = Database(database_url)
    try:
        with database.connection() as db:
            if database.dialect == "postgresql":
                query = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                assert db.execute(query).fetchone()[0] == 0, "tables were created"
    finally:
        database.close()


def test_stations_import_seeds_the_registry_all_or_none(
    config_file: Path,
    settings: CentralSettings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    url = settings.database.resolved_url
    cfg = ("--config", str(config_file))
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[stations]]\nid = "cs-0500"\nname = "好"\nnumber = 12\n\n'
        '[[stations]]\nid = "cs-0501"\nname = "坏"\ncolour = "red"\nregion_code = 99\n'
        "capacity = -3\n",
        encoding="utf-8",
    )
    before = registry(url)
    code, _, err = run(capsys, "stations", "import", *cfg, str(bad))
    assert code == 1
    assert "nothing was imported" in err
    for line in ("station 2, capacity:", "station 2, colour: unknown field", "station 2, region"):
        assert line in err, err
    taken = tmp_path / "taken.csv"
    taken.write_text("id,name,number\ncs-0502,甲,4242\n", encoding="utf-8")
    code, _, err = run(capsys, "stations", "import", *cfg, str(taken))
    assert code == 1
    assert "number 4242 was given to station 'cs-0001'" in err
    assert registry(url) == before

    code, out, err = run(capsys, "stations", "import", *cfg, str(DEPLOY / "config/stations.toml"))
    assert code == 0, err
    assert "imported 1 station (0 new)" in out
    assert "cs-0001\t4242\t430102\t五一广场驿站" in out
    new = tmp_path / "new.csv"
    new.write_text("id,name\ncs-0600,新站\n", encoding="utf-8")
    code, out, err = run(capsys, "stations", "import", *cfg, str(new))
    assert code == 0, err
    assert "cs-0600\t9002\t-\t新站" in out, "the next number above every one given"
    code, out, _ = run(capsys, "stations", "list", *cfg)
    assert [line.split("\t")[:2] for line in out.splitlines()] == [
        ["cs-0001", "4242"],
        ["cs-0002", "4243"],
        ["cs-0600", "9002"],
        ["sz-0001", "9001"],
    ]
