"""Operator keys and signed payloads for `mosquitto_pub`: `yizhan operator-key`, `yizhan command`.

An operator key file is JSON with the operator's `name` and the raw Ed25519 private key
in base64, readable by its owner only. Gateways list the public half under
`[maintenance.operators]`. `yizhan command` prints one `command/1` payload for one station
and gateway (signed when given a key) and `yizhan desired-config` one `config/1` payload,
ready for `-m "$(...)"`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from contract.maintenance_payloads import ConfigDesired
from contract.payloads import MAX_COMMAND_TTL_S, Command, utc_now
from contract.signing import sign
from servicekit.operator_keys import OperatorKey


def parse_value(text: str) -> Any:
    """A `key=value` value: JSON when it parses (numbers, true, lists), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(pairs: list[str]) -> dict[str, Any]:
    """`["door=main", "seconds=3"]` → `{"door": "main", "seconds": 3}`."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {pair!r}")
        out[key] = parse_value(value)
    return out


def add_parsers(commands: Any) -> None:
    """`yizhan operator-key new`, `yizhan command` and `yizhan desired-config`.

    (`yizhan operators` manages dashboard logins; an operator key signs commands.)"""
    operator = commands.add_parser(
        "operator-key", help="make a key that signs door-opening commands"
    )
    actions = operator.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="create a key file and print its public key")
    new.add_argument("--name", required=True, help="the operator's name, as gateways list it")
    new.add_argument("--out", type=Path, required=True, help="key file to write (mode 0600)")

    command = commands.add_parser("command", help="print a command/1 payload for mosquitto_pub")
    command.add_argument("name", help="ping, unlock, lock, lockdown, set_config, …")
    command.add_argument("args", nargs="*", metavar="KEY=VALUE", help="arguments (JSON values)")
    command.add_argument("--station", required=True, help="the station it is for")
    command.add_argument("--gateway", required=True, help="the gateway it is for")
    command.add_argument("--key", type=Path, help="sign with this operator key file")
    command.add_argument("--request-id", help="default: the command name and the time")
    command.add_argument(
        "--ttl",
        type=float,
        default=30.0,
        help=f"seconds it stays valid (at most {MAX_COMMAND_TTL_S:g}; gateways cap it at 60)",
    )
    command.add_argument("--reply-to", help="a topic below the gateway's reply topic")

    desired = commands.add_parser("desired-config", help="print a signed config/1 payload")
    desired.add_argument("settings", nargs="+", metavar="KEY=VALUE")
    desired.add_argument("--station", required=True)
    desired.add_argument("--gateway", required=True)
    desired.add_argument("--key", type=Path, required=True, help="operator key file")
    desired.add_argument("--version", type=int, help="default: the current Unix time")


def run(args: argparse.Namespace) -> str:
    """The text to print for one of these sub-commands; raises `ValueError` on bad input."""
    if args.command == "operator-key":
        key = OperatorKey.generate(args.name)
        key.save(args.out)
        return (
            f"# wrote {args.out}; keep it private. On each gateway, in gateway.toml:\n"
            f"[maintenance.operators]\n{key.name} = {json.dumps(key.public_key)}"
        )
    if args.command == "command":
        pairs = parse_pairs(args.args)
        command_args = {"settings": pairs} if args.name == "set_config" else pairs
        payload = Command(
            request_id=args.request_id or f"{args.name}-{time.time_ns() // 1_000_000}",
            station_id=args.station,
            gateway_id=args.gateway,
            reply_to=args.reply_to,
            issued_at=utc_now(),
            ttl_s=args.ttl,
            command=args.name,
            args=command_args,
        )
        if args.key is not None:
            key = OperatorKey.load(args.key)
            payload = sign(payload, key.name, key.private_key)
        return payload.to_json().decode()
    key = OperatorKey.load(args.key)
    desired = ConfigDesired(
        station_id=args.station,
        gateway_id=args.gateway,
        version=args.version or int(time.time()),
        issued_at=utc_now(),
        settings=parse_pairs(args.settings),
    )
    return sign(desired, key.name, key.private_key).to_json().decode()
