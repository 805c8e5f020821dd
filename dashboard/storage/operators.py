"""Operators of the central: accounts with argon2 password hashes, roles, sessions, audit.

Roles are ordered: a `viewer` reads, an `operator` also acts (acknowledges alerts,
corrects counts, unlocks doors, manages workers), an `admin` also manages stations,
keys and operators. Sessions are random tokens; only their SHA-256 is stored, so a
copy of the database does not let anyone log in. Each session carries its own CSRF
token for the double-submit check of cookie-authenticated requests.

Tables `operators`, `operator_sessions` and `audit_log`; nothing else writes them
(`write_audit` lets a batch or a check add its audit row in its own transaction).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Connection, Database


class Role(IntEnum):
    """What an operator may do; a higher role may do all a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """`viewer`, `operator` or `admin`; ValueError otherwise."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: viewer, operator or admin") from None

    @property
    def label(self) -> str:
        """The role's name as the API spells it."""
        return self.name.lower()


@dataclass(frozen=True)
class OperatorAccount:
    """An operator as the API shows it (never the hash)."""

    name: str
    role: str
    created_at: str
    disabled: bool


@dataclass(frozen=True)
class Session:
    """Who a valid session token belongs to, their role and the session's CSRF token."""

    name: str
    role: Role
    csrf: str


@dataclass(frozen=True)
class AuditRow:
    """One state-changing request: who, what, on which path, with which outcome."""

    id: int
    at: str
    actor: str
    action: str
    target: str
    status: int
    detail: str


def write_audit(
    db: Connection, actor: str, action: str, target: str, status: int, detail: str = ""
) -> None:
    """Record one action in the audit log, inside the caller's transaction (how a command
    ended is written with the answer that says so)."""
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, status, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (format_utc(utc_now()), actor, action, target[:500], status, detail[:2000]),
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OperatorStore:
    """Operators, their sessions and the audit log, in the central's database (upgraded:
    `dashboard.storage.migrations`)."""

    def __init__(self, database: Database, session_ttl: timedelta = timedelta(hours=12)) -> None:
        self.db = database
        self.session_ttl = session_ttl
        self.hasher = PasswordHasher()

    def add(self, name: str, password: str, role: Role) -> OperatorAccount:
        """Create an operator; ValueError if the name is taken or the input is bad."""
        if not name or len(name) > 64 or not name.isprintable():
            raise ValueError("name must be 1 to 64 printable characters")
        if len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        created = format_utc(utc_now())
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM operators WHERE name = ?", (name,)).fetchone():
                raise ValueError(f"operator {name!r} exists")
            db.execute(
                "INSERT INTO operators (name, role, password_hash, created_at, disabled)"
                " VALUES (?, ?, ?, ?, 0)",
                (name, role.label, self.hasher.hash(password), created),
            )
        return OperatorAccount(name, role.label, created, False)

    def update(
        self,
        name: str,
        role: Role | None = None,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> OperatorAccount:
        """Change an operator's role, password or disabled flag; LookupError if unknown.
        Disabling or a new password ends the operator's sessions."""
        if password is not None and len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        with self.db.transaction() as db:
            if not db.execute("SELECT 1 FROM operators WHERE name = ?", (name,)).fetchone():
                raise LookupError(name)
            if role is not None:
                db.execute("UPDATE operators SET role = ? WHERE name = ?", (role.label, name))
            if password is not None:
                db.execute(
                    "UPDATE operators SET password_hash = ? WHERE name = ?",
                    (self.hasher.hash(password), name),
                )
            if disabled is not None:
                db.execute(
                    "UPDATE operators SET disabled = ? WHERE name = ?", (int(disabled), name)
                )
            if password is not None or disabled:
                db.execute("DELETE FROM operator_sessions WHERE name = ?", (name,))
        return self.get(name)

    def get(self, name: str) -> OperatorAccount:
        """One operator; LookupError if unknown."""
        with self.db.connection() as db:
            row = db.execute(
                "SELECT name, role, created_at, disabled FROM operators WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise LookupError(name)
        return OperatorAccount(row[0], row[1], row[2], bool(row[3]))

    def all(self) -> list[OperatorAccount]:
        """Every operator, by name."""
        with self.db.connection() as db:
            rows = db.execute(
                "SELECT name, role, created_at, disabled FROM operators ORDER BY name"
            ).fetchall()
        return [OperatorAccount(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def remove(self, name: str) -> None:
        """Delete an operator and their sessions; LookupError if unknown."""
        with self.db.transaction() as db:
            db.execute("DELETE FROM operator_sessions WHERE name = ?", (name,))
            gone = db.execute("DELETE FROM operators WHERE name = ?", (name,)).rowcount
        if not gone:
            raise LookupError(name)

    def login(self, name: str, password: str) -> tuple[str, Session] | None:
        """A new session token and its session if the password is right, else None."""
        with self.db.connection() as db:
            row = db.execute(
                "SELECT password_hash, role, disabled FROM operators WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            # Hash anyway, so that a wrong name takes as long as a wrong password.
            self.hasher.hash(password)
            return None
        try:
            self.hasher.verify(row[0], password)
        except (VerificationError, InvalidHashError):
            return None
        if row[2]:
            return None
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = utc_now()
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO operator_sessions (token_hash, name, csrf, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (_digest(token), name, csrf, format_utc(now), format_utc(now + self.session_ttl)),
            )
            # Expired sessions go when someone logs in: no timer needed.
            db.execute("DELETE FROM operator_sessions WHERE expires_at < ?", (format_utc(now),))
        return token, Session(name, Role.parse(row[1]), csrf)

    def session(self, token: str) -> Session | None:
        """The live session of a token, or None if unknown, expired or its operator is gone."""
        if not token or len(token) > 200:
            return None
        with self.db.connection() as db:
            row = db.execute(
                "SELECT s.name, o.role, s.csrf, s.expires_at FROM operator_sessions s"
                " JOIN operators o ON o.name = s.name"
                " WHERE s.token_hash = ? AND o.disabled = 0",
                (_digest(token),),
            ).fetchone()
        if row is None or row[3] < format_utc(utc_now()):
            return None
        return Session(row[0], Role.parse(row[1]), row[2])

    def logout(self, token: str) -> None:
        """End a session (nothing if it is unknown)."""
        with self.db.transaction() as db:
            db.execute("DELETE FROM operator_sessions WHERE token_hash = ?", (_digest(token),))

    def audit(self, actor: str, action: str, target: str, status: int, detail: str = "") -> None:
        """Record one state-changing action."""
        with self.db.transaction() as db:
            write_audit(db, actor, action, target, status, detail)

    def audit_log(self, limit: int = 100, since: datetime | None = None) -> list[AuditRow]:
        """The newest audit rows first."""
        sql = "SELECT id, at, actor, action, target, status, detail FROM audit_log"
        params: list[object] = []
        if since is not None:
            sql += " WHERE at >= ?"
            params.append(format_utc(since))
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self.db.connection() as db:
            rows = db.execute(sql, params).fetchall()
        return [AuditRow(*row) for row in rows]
