"""`yizhan workers ...` and `yizhan keys ...`: enrollment and keys from a terminal.

They work on the central's database and key directory as its configuration names them.
A running central notices every change within a second and publishes what gateways need;
with no central running, it is published when the central starts.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from pydantic import ValidationError

from contract.payloads import format_utc, utc_now
from contract.tokens import worker_number_of
from dashboard.cli.database import open_central_database
from dashboard.core.config import load_central_settings
from dashboard.core.workers import Worker, WorkerInput, WorkerStatus
from dashboard.services.credentials import Credentials
from dashboard.services.signing_keys import KeyLimitError
from dashboard.storage.workers import EnrollmentError, UnknownWorkerError

PUBLISHED_NOTE = "a running central publishes the change within a second"


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out a `workers` or `keys` command; 0 on success, 1 when refused."""
    out, err = out or sys.stdout, err or sys.stderr
    settings = load_central_settings(args.config)
    credentials = Credentials(settings, database=open_central_database(settings))
    try:
        if args.command == "keys":
            return _keys(credentials, args.keys_command, out, err)
        return _workers(credentials, args, out, err)
    finally:
        credentials.stop()


def _workers(credentials: Credentials, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    command = args.workers_command
    if command == "list":
        status = WorkerStatus(args.status) if args.status else None
        for worker in credentials.store.workers(status, args.limit):
            out.write(_line(worker) + "\n")
        return 0
    if command == "import":
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            err.write(f"yizhan: cannot read {args.file}: {exc.strerror}\n")
            return 1
        workers, problems = credentials.import_csv(data)
        if not problems:
            out.write(f"imported {len(workers)} workers; {PUBLISHED_NOTE}\n")
            for worker in workers:
                out.write(_line(worker) + "\n")
            return 0
        err.write(f"{args.file}: {len(problems)} problem(s); nothing was imported\n")
        for problem in problems:
            where = "file" if problem.row is None else f"row {problem.row}"
            column = f", {problem.column}" if problem.column else ""
            err.write(f"  {where}{column}: {problem.problem}\n")
        return 1
    if command == "add":
        fields = {
            "display_name": args.name,
            "platform": args.platform,
            "groups": args.group,
            "valid_from": args.valid_from,
            "valid_until": args.valid_until,
            "scope": args.scope,
            "face_ids": args.face_id,
            "card_numbers": args.card,
        }
        try:
            item = WorkerInput.model_validate(fields, context={"zone": credentials.zone})
            (worker,) = credentials.enroll([item])
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "worker"
                err.write(f"yizhan: {where}: {error['msg']}\n")
            return 1
        except EnrollmentError as exc:
            for _, column, text in exc.problems:
                err.write(f"yizhan: {column}: {text}\n")
            return 1
        out.write(_line(worker) + "\n")
        return 0
    number = worker_number_of(args.worker_id)
    try:
        if number is None:
            raise UnknownWorkerError(args.worker_id)
        if command == "revoke":
            worker = credentials.revoke(number, (args.reason or "").strip() or None)
            out.write(f"{worker.worker_id} revoked; {PUBLISHED_NOTE}\n")
            return 0
        _, secret = credentials.store.create_pass_link(number)
    except UnknownWorkerError:
        err.write(f"yizhan: no worker {args.worker_id}\n")
        return 1
    except EnrollmentError as exc:
        err.write(f"yizhan: {exc.problems[0][2]}\n")
        return 1
    # The secret is shown this once; the database keeps only its hash.
    out.write(credentials.pass_url(secret) + "\n")
    return 0


def _keys(credentials: Credentials, command: str, out: TextIO, err: TextIO) -> int:
    if command == "rotate":
        try:
            key_id = credentials.rotate_keys()
        except KeyLimitError as exc:
            err.write(f"yizhan: {exc}\n")
            return 1
        out.write(f"added key {key_id}; {PUBLISHED_NOTE}\n")
    now = utc_now()
    for key in credentials.keys.keys(now):
        retire = "-" if key.retire_at is None else format_utc(key.retire_at)
        role = "signing" if key.signing else ("next" if key.signs_from > now else "verifying")
        out.write(
            f"{key.key_id:>3}  {role:<9}  signs from {format_utc(key.signs_from)}  "
            f"retires {retire}  {key.public_key}\n"
        )
    return 0


def _line(worker: Worker) -> str:
    until = "-" if worker.valid_until is None else format_utc(worker.valid_until)
    return (
        f"{worker.worker_id}\t{worker.status.value}\t{worker.platform.value}\t"
        f"{worker.scope}\tuntil {until}\t{worker.display_name}"
    )
