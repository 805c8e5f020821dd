"""`yizhan operators ...`: create the first admin and manage operators from a shell.

The password is read from standard input (one line) when `--password-stdin` is given,
so that it never shows in the process list; otherwise a random one is made and printed
once.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import TextIO

from dashboard.cli.args import config_option
from dashboard.cli.database import open_central_database
from dashboard.core.config import load_central_settings
from dashboard.storage.operators import OperatorStore, Role


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `operators add|list|passwd` to the `yizhan` command line."""
    operators = commands.add_parser("operators", help="operator accounts of the dashboard")
    sub = operators.add_subparsers(dest="operators_command", required=True)
    add = sub.add_parser("add", help="create an operator (the first admin, for instance)")
    add.add_argument("--name", required=True, help="login name")
    add.add_argument("--role", default="viewer", choices=("viewer", "operator", "admin"))
    add.add_argument("--password-stdin", action="store_true", help="read the password")
    passwd = sub.add_parser("passwd", help="set an operator's password")
    passwd.add_argument("--name", required=True)
    passwd.add_argument("--password-stdin", action="store_true", help="read the password")
    listing = sub.add_parser("list", help="list operators")
    for parser in (add, passwd, listing):
        config_option(parser)


def run(args: argparse.Namespace, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Carry out one `yizhan operators` command; the exit status."""
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    settings = load_central_settings(args.config)
    database = open_central_database(settings)
    try:
        store = OperatorStore(database)
        if args.operators_command == "list":
            for account in store.all():
                state = " (disabled)" if account.disabled else ""
                print(f"{account.name}\t{account.role}{state}", file=out)
            return 0
        generated = not args.password_stdin
        password = secrets.token_urlsafe(12) if generated else stdin.readline().rstrip("\n")
        try:
            if args.operators_command == "add":
                store.add(args.name, password, Role.parse(args.role))
            else:
                store.update(args.name, password=password)
        except (ValueError, LookupError) as exc:
            print(f"yizhan: {exc}", file=sys.stderr)
            return 1
        print(f"operator {args.name} ({getattr(args, 'role', 'password changed')})", file=out)
        if generated:
            print(f"password (shown once): {password}", file=out)
        return 0
    finally:
        database.close()
