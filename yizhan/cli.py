"""The `yizhan` command: `demo`, `central`, `gateway`, `broker`, `stations`, `workers`,
`keys`, `operators`, and the maintainer's `operator-key`, `command` and `desired-config`."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from servicekit.settings import ConfigError, parse_broker_url
from yizhan import __version__, systemd
from yizhan.stopping import stop_on_signals


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _broker_url(text: str) -> str:
    try:
        parse_broker_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line, with one sub-command per way to run yizhan."""
    parser = argparse.ArgumentParser(prog="yizhan", description=__doc__)
    parser.add_argument("--version", action="version", version=f"yizhan {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="broker, central and simulated stations in one go")
    demo.add_argument("--stations", type=int, default=5, help="how many stations (default 5)")
    demo.add_argument(
        "--http",
        type=_host_port,
        default=("127.0.0.1", 8000),
        metavar="HOST:PORT",
        help="where to serve the dashboard (default 127.0.0.1:8000)",
    )
    demo.add_argument(
        "--broker",
        type=_broker_url,
        metavar="mqtt://HOST:PORT",
        help="use this broker instead of starting an embedded one",
    )
    demo.add_argument(
        "--db", type=Path, default=Path("yizhan-data/demo.db"), help="SQLite file of the demo"
    )
    demo.add_argument("--seed", type=int, help="seed for repeatable simulated traffic")
    demo.add_argument(
        "--arrival-s",
        type=float,
        default=6.0,
        metavar="SECONDS",
        help="mean time between arrivals at each station (default 6)",
    )

    central = commands.add_parser("central", help="run the central service")
    central.add_argument("--config", type=Path, help="TOML file (YIZHAN_* variables override)")

    gateway = commands.add_parser(
        "gateway", help="run one station gateway (or enroll it: gateway enroll CODE)"
    )
    gateway.add_argument("--config", type=Path, help="TOML file (required to run)")
    gateway_actions = gateway.add_subparsers(dest="gateway_action")
    enroll = gateway_actions.add_parser(
        "enroll", help="fetch this gateway's identity and credentials with a one-time code"
    )
    enroll.add_argument("code", help="the enrollment code from the dashboard")
    enroll.add_argument(
        "--central", required=True, metavar="URL", help="the central, https://central.example.org"
    )
    enroll.add_argument(
        "--dir",
        type=Path,
        default=Path("/etc/yizhan"),
        help="where gateway.toml and ca.crt are written (default /etc/yizhan)",
    )
    enroll.add_argument(
        "--state-dir",
        type=Path,
        default=Path("/var/lib/yizhan"),
        help="the gateway's state directory named in gateway.toml (default /var/lib/yizhan)",
    )
    enroll.add_argument(
        "--profile", default="raspberry-pi-4", help="board profile (default raspberry-pi-4)"
    )
    enroll.add_argument("--owner", help="hand the written files to this user (e.g. yizhan)")
    enroll.add_argument("--central-ca", type=Path, help="CA of the central's HTTPS certificate")
    enroll.add_argument(
        "--allow-http",
        action="store_true",
        help="permit http:// to a loopback address (tests, a central on this machine)",
    )

    broker = commands.add_parser("broker", help="manage Mosquitto accounts and ACLs")
    accounts = broker.add_subparsers(dest="action", required=True)
    add_gateway = accounts.add_parser(
        "add-gateway", help="create (or rotate) a gateway's credentials and ACL entry"
    )
    add_gateway.add_argument("--station", required=True, help="station id")
    add_gateway.add_argument("--gateway", required=True, help="gateway id")
    add_central = accounts.add_parser(
        "add-central", help="create (or rotate) a central replica's credentials and ACL entry"
    )
    add_central.add_argument("--central-id", default="central-1", help="the replica's id")
    add_maintainer = accounts.add_parser(
        "add-maintainer", help="an account that reads everything and sends commands"
    )
    add_maintainer.add_argument("--name", required=True, help="username")
    add_viewer = accounts.add_parser(
        "add-viewer", help="an account that reads everything and may publish nothing"
    )
    add_viewer.add_argument("--name", required=True, help="username")
    remove = accounts.add_parser("remove", help="delete an account's password and ACL entry")
    remove.add_argument("--name", required=True, help="username, e.g. alice or cs-0001.gw-1")
    for sub in (add_gateway, add_central, add_maintainer, add_viewer, remove):
        sub.add_argument(
            "--dir",
            type=Path,
            default=Path("/etc/mosquitto/yizhan"),
            help="where Mosquitto's passwd and acl files live (default /etc/mosquitto/yizhan)",
        )

    from dashboard.cli.args import add_parsers
    from yizhan import operator_tool

    add_parsers(commands)
    from dashboard.cli.operators import add_parsers as add_operator_parsers

    add_operator_parsers(commands)
    operator_tool.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `yizhan` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "central":
            return _central(args.config)
        if args.command == "broker":
            return _broker(args)
        if args.command in ("operator-key", "command", "desired-config"):
            return _operator(args)
        if args.command == "operators":
            from dashboard.cli.operators import run as run_operators

            return run_operators(args)
        if args.command == "stations":
            from dashboard.cli.stations import run as run_stations

            return run_stations(args)
        if args.command in ("workers", "keys"):
            from dashboard.cli.workers import run

            return run(args)
        if args.gateway_action == "enroll":
            return _enroll(args)
        if args.config is None:
            print("yizhan: gateway needs --config FILE (or: gateway enroll CODE)", file=sys.stderr)
            return 2
        return _gateway(args.config)
    except ConfigError as exc:
        print(f"yizhan: configuration error\n{exc}", file=sys.stderr)
        return 2


# Each sub-command imports only its own side, so a gateway on a Pi never loads the web stack.


def _demo(args: argparse.Namespace) -> int:
    from yizhan.demo import DemoOptions, run_demo

    if args.stations < 1 or args.arrival_s <= 0:
        print("yizhan: --stations must be at least 1 and --arrival-s above 0", file=sys.stderr)
        return 2
    host, port = args.http
    run_demo(
        DemoOptions(
            stations=args.stations,
            http_host=host,
            http_port=port,
            broker_url=args.broker,
            database=args.db,
            seed=args.seed,
            mean_arrival_s=args.arrival_s,
        )
    )
    return 0


def _central(config: Path | None) -> int:
    from dashboard.central import Central, serve_in_thread
    from dashboard.core.config import load_central_settings

    settings = load_central_settings(config)
    stop = stop_on_signals()
    central = Central(settings)
    server = central.http_server()
    try:
        central.start()
        serve_in_thread(server)
        print(f"yizhan central on http://{settings.http.host}:{settings.http.port}/", flush=True)
        systemd.notify("READY=1")
        _supervise(stop, central.running)
    finally:
        systemd.notify("STOPPING=1")
        server.should_exit = True
        central.stop()
    return 0


def _operator(args: argparse.Namespace) -> int:
    from yizhan import operator_tool

    try:
        print(operator_tool.run(args), flush=True)
    except ValueError as exc:
        print(f"yizhan: {exc}", file=sys.stderr)
        return 2
    return 0


def _gateway(config: Path) -> int:
    from gateway.config import load_board, load_gateway_settings
    from gateway.service import RESTART_EXIT_CODE, Gateway

    settings = load_gateway_settings(config)
    board = load_board(settings, config.parent)
    stop = stop_on_signals()
    gateway = Gateway(settings, board)
    # A `restart` command: answer, then leave the main loop like a stop signal would.
    gateway.on_restart = stop.set
    try:
        gateway.start()
        # "running" means the scanners are open: what they send from now on is read.
        if not gateway.devices.wait_serial_open(10):
            print("yizhan: a serial device is not open yet", file=sys.stderr)
        print(f"yizhan gateway {settings.station_id}/{settings.gateway_id} running", flush=True)
        systemd.notify("READY=1")
        _supervise(stop, gateway.devices.running)
    finally:
        systemd.notify("STOPPING=1")
        gateway.stop()
    if gateway.restart_requested.is_set():
        print(f"yizhan: restarting on request (exit code {RESTART_EXIT_CODE})", flush=True)
        return RESTART_EXIT_CODE
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from contract.enrollment import MalformedCodeError
    from gateway.enrollment import EnrollmentError, EnrollTarget, enroll

    target = EnrollTarget(
        central_url=args.central,
        directory=args.dir,
        state_dir=args.state_dir,
        profile=args.profile,
        allow_http=args.allow_http,
        central_ca=args.central_ca,
        owner=args.owner,
    )
    try:
        enrolled = enroll(args.code, target)
    except (EnrollmentError, MalformedCodeError) as exc:
        print(f"yizhan: enrollment failed: {exc}", file=sys.stderr)
        return 1
    except (OSError, LookupError) as exc:
        print(
            f"yizhan: enrollment fetched but not written ({exc}); the code is spent: "
            "ask for a new one",
            file=sys.stderr,
        )
        return 1
    print(f"enrolled {enrolled.station_id}/{enrolled.gateway_id}")
    print(f"wrote {enrolled.config}" + (f" and {enrolled.ca_file}" if enrolled.ca_file else ""))
    if enrolled.replaced is not None:
        print(f"the earlier configuration is in {enrolled.replaced}")
    print(f"start it with: yizhan gateway --config {enrolled.config}")
    return 0


def _broker(args: argparse.Namespace) -> int:
    from servicekit import broker_accounts as admin

    kind = admin.AccountKind
    try:
        if args.action == "remove":
            if not admin.remove_account(args.dir, args.name):
                print(f"yizhan: no account {args.name!r} in {args.dir}", file=sys.stderr)
                return 1
            print(f"# Removed {args.name!r}; reload Mosquitto: systemctl reload mosquitto")
            return 0
        if args.action == "add-gateway":
            username = admin.gateway_username(args.station, args.gateway)
            acl, what = admin.gateway_acl(args.station, args.gateway), kind.GATEWAY
        elif args.action == "add-central":
            username = f"central.{args.central_id}"
            acl, what = admin.central_acl(args.central_id), kind.CENTRAL
        elif args.action == "add-viewer":
            username, acl, what = admin.person_username(args.name), admin.viewer_acl(), kind.VIEWER
        else:
            username = admin.person_username(args.name)
            acl, what = admin.maintainer_acl(), kind.MAINTAINER
        account = admin.add_account(args.dir, username, acl, what)
    except (ValueError, OSError) as exc:
        print(f"yizhan: {exc}", file=sys.stderr)
        return 2
    print(f"username = {account.username!r}")
    print(f"password = {account.password!r}")
    print(
        f"# Written to {args.dir}/passwd and {args.dir}/acl; the password is not kept.\n"
        "# Give it to the service as YIZHAN_BROKER__USERNAME / YIZHAN_BROKER__PASSWORD,\n"
        "# then reload Mosquitto: systemctl reload mosquitto (or kill -HUP its pid)."
    )
    return 0


def _supervise(stop: threading.Event, healthy: Callable[[], bool]) -> None:
    """The main loop: wait for a stop signal, feeding systemd's watchdog while healthy.

    A stuck door timer or a dead serial reader stops the pings, so systemd restarts the
    service instead of leaving a door that no longer relocks or reads.
    """
    interval = systemd.watchdog_interval()
    while not stop.wait(interval or 3600):
        if interval is None:
            continue
        if healthy():
            systemd.notify("WATCHDOG=1")
        else:
            print("yizhan: a device thread died; withholding the watchdog ping", flush=True)


if __name__ == "__main__":
    sys.exit(main())
