"""`yizhan gateway enroll`: fetch a gateway's identity and credentials from the central
with a one-time code, and write them where `yizhan gateway --config` reads them.

The code is spent on the central's side by the first good answer, so everything that can
fail here before the request (the address, the directory) is checked first. Files are
written owner-only (0600) beside and renamed over, so no reader ever sees half a file.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from contract.enrollment import EnrollmentBundle, normalise_code

CONFIG_NAME = "gateway.toml"
CA_NAME = "ca.crt"
ENROLL_PATH = "/api/enroll"


class EnrollmentError(Exception):
    """Enrollment did not happen; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class EnrollTarget:
    """Where to enroll and where to write the result."""

    central_url: str
    directory: Path
    state_dir: Path
    profile: str
    allow_http: bool = False
    central_ca: Path | None = None
    """CA that signed the central's HTTPS certificate, when not a public one."""
    owner: str | None = None
    """User the written files are handed to (the service's, when enrolling as root)."""


@dataclass(frozen=True, slots=True)
class Enrolled:
    """What was written."""

    station_id: str
    gateway_id: str
    config: Path
    ca_file: Path | None
    replaced: Path | None
    """Where an earlier configuration was moved to, if there was one."""


def check_central_url(url: str, allow_http: bool) -> str:
    """The enrollment endpoint of `url`: HTTPS, or HTTP to a loopback address when
    allowed (tests, or a central on the same machine); `EnrollmentError` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EnrollmentError(f"--central must be an https:// address, not {url!r}")
    if parts.scheme == "http":
        if not allow_http:
            raise EnrollmentError(
                "the central must be reached over https:// (the answer holds a password); "
                "--allow-http permits http:// to a loopback address only"
            )
        if not _loopback(parts.hostname):
            raise EnrollmentError(
                f"http:// is allowed only to a loopback address, not {parts.hostname!r}: use https://"
            )
    return url.rstrip("/") + ENROLL_PATH


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def enroll(code: str, target: EnrollTarget, timeout: float = 30.0) -> Enrolled:
    """Fetch the bundle for `code` and write the gateway's files."""
    code = normalise_code(code)
    endpoint = check_central_url(target.central_url, target.allow_http)
    _check_writable(target.directory)
    bundle = fetch_bundle(endpoint, code, target.central_ca, timeout)
    return write_files(bundle, target)


def fetch_bundle(
    endpoint: str, code: str, central_ca: Path | None = None, timeout: float = 30.0
) -> EnrollmentBundle:
    """POST the code; the central's bundle, or `EnrollmentError` with its reason."""
    request = urllib.request.Request(
        endpoint,
        data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(central_ca) if central_ca else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
            body = answer.read(1 << 20)
    except urllib.error.HTTPError as exc:
        raise EnrollmentError(f"the central refused: {_detail(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EnrollmentError(f"cannot reach the central at {endpoint}: {reason}") from None
    try:
        return EnrollmentBundle.model_validate_json(body)
    except ValidationError as exc:
        raise EnrollmentError(f"the central's answer is not an enrollment: {exc}") from None


def _detail(error: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(error.read(65536))["detail"]
    except (ValueError, KeyError, TypeError):
        detail = error.reason
    return f"{detail} (HTTP {error.code})"


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".enroll-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise EnrollmentError(
            f"cannot write to {directory} ({exc.strerror}); nothing was fetched, the code "
            "is still good: run as a user who may write there, or choose --dir"
        ) from None


def write_files(bundle: EnrollmentBundle, target: EnrollTarget) -> Enrolled:
    """Write the CA certificate and a complete gateway configuration, owner-only."""
    directory = target.directory
    ca_file = None
    if bundle.ca_certificate:
        ca_file = directory / CA_NAME
        _write_private(ca_file, bundle.ca_certificate, target.owner)
    config = directory / CONFIG_NAME
    replaced = None
    if config.exists():
        replaced = config.with_name(CONFIG_NAME + ".before-enroll")
        config.replace(replaced)
    _write_private(config, gateway_config(bundle, target, ca_file), target.owner)
    return Enrolled(bundle.station_id, bundle.gateway_id, config, ca_file, replaced)


def gateway_config(bundle: EnrollmentBundle, target: EnrollTarget, ca_file: Path | None) -> str:
    """A configuration `yizhan gateway --config` starts from (docs/configuration.md has
    every key; door timings and policy keep their defaults until edited)."""

    def text(value: object) -> str:
        # A JSON string is a valid TOML basic string for the characters these hold.
        return json.dumps(str(value), ensure_ascii=False)

    tls = urlsplit(bundle.broker_url).scheme == "mqtts"
    lines = [
        "# Written by `yizhan gateway enroll`; holds the broker password: keep it 0600.",
        f"station_id = {text(bundle.station_id)}",
        f"gateway_id = {text(bundle.gateway_id)}",
        f"profile = {text(target.profile)}",
        f"state_dir = {text(target.state_dir)}",
        "",
        "[broker]",
        f"url = {text(bundle.broker_url)}",
        f"username = {text(bundle.username)}",
        f"password = {text(bundle.password)}",
    ]
    if ca_file is not None and tls:
        lines.append(f"ca_file = {text(ca_file)}")
    lines += ["", "[outbox]", f"path = {text(target.state_dir / 'outbox.db')}", ""]
    lines.append("[maintenance.operators]")
    lines += [f"{text(name)} = {text(key)}" for name, key in sorted(bundle.operator_keys.items())]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str, owner: str | None = None) -> None:
    temporary = path.with_name(path.name + ".new")
    # Created with its mode, never widened later: a leftover from a crash goes first.
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    if owner is not None:
        shutil.chown(temporary, user=owner)
    temporary.replace(path)
