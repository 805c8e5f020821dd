"""Loading configuration: a TOML file, then `YIZHAN_*` environment variables over it.

Nested keys use a double underscore in the environment: `YIZHAN_BROKER__URL` sets
`broker.url`. Every error names the key (and the file's line where there is one) and
says what was expected, so that a wrong value stops the service at start, not at 3 a.m.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

ModelT = TypeVar("ModelT", bound=BaseModel)

ENV_PREFIX = "YIZHAN_"


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name such as `Asia/Shanghai`, checked against the zone database."""


class ConfigError(Exception):
    """Configuration that cannot be used; the message says where and what to do."""


RETIRED_KEY = "retired_key"


def retired_key(message: str) -> PydanticCustomError:
    """The error of a key that is no longer read, with what to do instead; its value is
    not repeated in the message (it may be a whole section)."""
    return PydanticCustomError(RETIRED_KEY, message)


class Section(BaseModel):
    """Base for configuration sections: typos in key names are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerSettings(Section):
    """How to reach the MQTT broker: address, credentials, TLS, session and reconnection."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="MQTT client id; must be unique per connection. Derived when absent.",
    )
    ca_file: Path | None = Field(
        default=None, description="CA certificate that signed the broker's (mqtts:// only)."
    )
    cert_file: Path | None = Field(default=None, description="Client certificate (optional).")
    key_file: Path | None = Field(default=None, description="Client certificate's key.")
    reconnect_min_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _consistent(self) -> BrokerSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must not be below reconnect_min_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if not self.tls and (self.ca_file or self.cert_file):
            raise ValueError("ca_file, cert_file and key_file need an mqtts:// url")
        return self

    @property
    def tls(self) -> bool:
        """True for `mqtts://` URLs."""
        return urlsplit(self.url).scheme == "mqtts"

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @property
    def host(self) -> str:
        """Host name or address of the broker."""
        return parse_broker_url(self.url)[0]

    @property
    def port(self) -> int:
        """TCP port of the broker."""
        return parse_broker_url(self.url)[1]


def parse_broker_url(url: str) -> tuple[str, int]:
    """`mqtt://host:port` or `mqtts://host:port` → (host, port); 1883 or 8883 by default."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"expected mqtt://host:port or mqtts://host:port, got {url!r}")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise ValueError(f"expected mqtt://host:port with a numeric port, got {url!r}") from exc
    return parts.hostname, port


def load_settings(
    model: type[ModelT],
    path: Path | None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ModelT:
    """Read `path` (optional), overlay environment variables and overrides, validate."""
    text = ""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for dotted, value in _environment_values(os.environ if environ is None else environ):
        _set_dotted(data, dotted, value)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key.split("."), value)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, text)) from exc


def _environment_values(environ: Mapping[str, str]) -> list[tuple[list[str], str]]:
    found = []
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            keys = name[len(ENV_PREFIX) :].lower().split("__")
            found.append((keys, value))
    return found


def _set_dotted(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(keys)}: {key!r} is a value, not a section")
        node = child
    node[keys[-1]] = value


def _describe(exc: ValidationError, path: Path | None, text: str) -> str:
    source = str(path) if path is not None else "configuration"
    lines = [f"{source}: {exc.error_count()} problem(s)"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        line = _line_of(text, error["loc"])
        where = f"line {line}: " if line else ""
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and section)"
        elif error["type"] == "missing":
            message = "required key is missing"
        got = error.get("input")
        quiet = ("missing", "extra_forbidden", RETIRED_KEY)
        hint = "" if error["type"] in quiet else f" (got {got!r})"
        lines.append(f"  {where}{key}: {message}{hint}")
    return "\n".join(lines)


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line of a key: the last string part of its path, after its section."""
    if not text:
        return None
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return None
    section = names[:-1]
    key = re.escape(names[-1])
    in_section = not section
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*$")
    for number, line in enumerate(text.splitlines(), start=1):
        found = header.match(line)
        if found and found.group(1).split(".") == names:
            return number  # the key is a section or an array of tables
        if found:
            in_section = found.group(1).split(".") == section
            continue
        if in_section and re.match(rf"^\s*{key}\s*=", line):
            return number
    return None
