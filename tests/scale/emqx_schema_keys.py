"""Make `emqx_schema_keys.txt`: the configuration keys (and enum values) EMQX 5 accepts in
the parts of `emqx.conf` that `deploy/emqx/emqx.conf` sets, read from EMQX's own schema
sources, so the test can check the shipped file without an EMQX to run it.

EMQX's schema is Erlang code (hocon_schema structs: `fields(Name) -> [{"key", sc(Type,
...)}, ...]`). Following every reference generically would need an Erlang evaluator;
instead `SECTIONS` names, for each key path prefix, the functions whose field lists
make it up, and `field_names` reads a function's field list: the first element of every
tuple directly inside a list of its body, and the values of a `hoconsc:enum([...])`
type (or, for a function whose body is only a list of atoms, those atoms). `*` in a path
stands for any name (a listener's), `[]` for an array element.

Regenerate (with a copy of github.com/emqx/emqx, bare or not):

    .venv/bin/python -m tests.scale.emqx_schema_keys /path/to/emqx v5.8.9
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

OUTPUT = Path(__file__).with_name("emqx_schema_keys.txt")

SCHEMA = "apps/emqx/src/emqx_schema.erl"
CONF = "apps/emqx_conf/src/emqx_conf_schema.erl"
AUTHN = "apps/emqx_auth/src/emqx_authn/emqx_authn_schema.erl"
AUTHN_DB = "apps/emqx_auth_mnesia/src/emqx_authn_mnesia_schema.erl"
HASHING = "apps/emqx_auth/src/emqx_authn/emqx_authn_password_hashing.erl"
AUTHZ = "apps/emqx_auth/src/emqx_authz/emqx_authz_schema.erl"
AUTHZ_FILE = "apps/emqx_auth/src/emqx_authz/sources/emqx_authz_file_schema.erl"
DASHBOARD = "apps/emqx_dashboard/src/emqx_dashboard_schema.erl"
LIMITER = "apps/emqx/src/emqx_limiter/src/emqx_limiter_schema.erl"

LISTENER = [
    (SCHEMA, "base_listener(Bind)"),
    (SCHEMA, "mqtt_listener(Bind)"),
    # A listener's rate limits (`messages_rate`, `bytes_rate`, `max_conn_rate`), which
    # `base_listener` appends from the limiter's schema: their names are a plain list.
    (LIMITER, "short_paths()"),
]
SSL_OPTIONS = [
    (SCHEMA, "common_ssl_opts_schema(Defaults, Type)"),
    (SCHEMA, "server_ssl_opts_schema(Defaults, IsRanchListener)"),
]

SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("", [(SCHEMA, "roots(high)"), (SCHEMA, "roots(medium)"), (SCHEMA, "roots(low)")]),
    # Roots added by the node's schema and the auth apps.
    ("", [(CONF, "roots()")]),
    ("node", [(CONF, 'fields("node")')]),
    ("cluster", [(CONF, 'fields("cluster")')]),
    ("cluster.static", [(CONF, "fields(cluster_static)")]),
    ("mqtt", [(SCHEMA, "mqtt_general()"), (SCHEMA, "mqtt_session()")]),
    ("mqtt.client_attrs_init.[]", [(SCHEMA, 'fields("client_attrs_init")')]),
    ("listeners", [(SCHEMA, "listeners()")]),
    ("listeners.tcp.*", [*LISTENER, (SCHEMA, 'fields("mqtt_tcp_listener")')]),
    ("listeners.tcp.*.tcp_options", [(SCHEMA, 'fields("tcp_opts")')]),
    ("listeners.ssl.*", [*LISTENER, (SCHEMA, 'fields("mqtt_ssl_listener")')]),
    ("listeners.ssl.*.tcp_options", [(SCHEMA, 'fields("tcp_opts")')]),
    ("listeners.ssl.*.ssl_options", SSL_OPTIONS),
    (
        "authentication.[]",
        [
            (AUTHN_DB, "fields(builtin_db)"),
            (AUTHN_DB, "common_fields()"),
            (AUTHN_DB, "bootstrap_fields()"),
            (AUTHN, "common_fields()"),
        ],
    ),
    ("authentication.[].password_hash_algorithm", [(HASHING, "fields(pbkdf2)")]),
    ("authorization", [(SCHEMA, "authz_fields()"), (AUTHZ, "authz_fields()")]),
    ("authorization.cache", [(SCHEMA, 'fields("authz_cache")')]),
    (
        "authorization.sources.[]",
        [(AUTHZ, "authz_common_fields(Type)"), (AUTHZ_FILE, "fields(file)")],
    ),
    ("dashboard", [(DASHBOARD, 'fields("dashboard")')]),
    ("dashboard.listeners", [(DASHBOARD, 'fields("listeners")')]),
    (
        "dashboard.listeners.http",
        [
            (DASHBOARD, "enable(Bool)"),
            (DASHBOARD, "bind(Port)"),
            (DASHBOARD, "common_listener_fields()"),
        ],
    ),
]

# Roots whose schema lives in apps this file does not read: only their name is listed.
EXTRA_ROOTS = ["authentication", "authorization", "dashboard"]


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a struct, with its enum values when its type is a plain enum."""

    name: str
    enum: tuple[str, ...] = ()


def clause_body(source: str, head: str) -> str:
    """The body of the function clause `head -> ...`, up to its `;` or `.`."""
    match = re.search(r"^" + re.escape(head) + r"\s*->", source, flags=re.M)
    if match is None:
        raise LookupError(f"{head} not found")
    depth = 0
    index = match.end()
    while index < len(source):
        char = source[index]
        if char == "%":
            index = source.index("\n", index)
            continue
        if char == '"':
            index = _string_end(source, index)
            continue
        if char == "$":
            # A character literal: `$[` is no bracket.
            index += 3 if source[index + 1] == "\\" else 2
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char in ";." and depth == 0 and source[index + 1 : index + 2].isspace():
            return source[match.end() : index]
        index += 1
    raise LookupError(f"{head} has no end")


def _string_end(source: str, start: int) -> int:
    index = start + 1
    while source[index] != '"':
        index += 2 if source[index] == "\\" else 1
    return index + 1


def field_names(body: str) -> list[Field]:
    """The fields a struct function's body lists: tuples directly inside a list (or the
    body itself, for a function that makes one field), or the atoms of a body that is
    nothing but a list of them (a function that names fields made elsewhere)."""
    names = re.fullmatch(r"\s*\[\s*([a-z_0-9]+(?:\s*,\s*[a-z_0-9]+)*)\s*\]\s*", body)
    if names is not None:
        return [Field(name.strip()) for name in names.group(1).split(",")]
    fields: list[Field] = []
    stack: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "%":
            index = body.find("\n", index)
            index = len(body) if index < 0 else index
            continue
        if char == '"':
            index = _string_end(body, index)
            continue
        if char == "$":
            index += 3 if body[index + 1] == "\\" else 2
            continue
        # A field is a tuple in a list, or the whole body of a function that makes one.
        if char == "{" and stack in (["["], []):
            name = re.match(r"\{\s*(?:\"([a-z_0-9]+)\"|([a-z][a-z_0-9]*))\s*,", body[index:])
            if name is not None:
                enum = re.match(
                    r"\{[^,]*,\s*(?:sc|\?HOCON|hoconsc:mk|mk)\(\s*hoconsc:enum\(\[([^\]]*)\]\)",
                    body[index:],
                )
                values = tuple(v.strip() for v in enum.group(1).split(",")) if enum else ()
                fields.append(Field(name.group(1) or name.group(2), values))
        if char in "([{":
            stack.append(char)
        elif char in ")]}":
            stack.pop()
        index += 1
    return fields


def read(repo: Path, ref: str, path: str) -> str:
    """A file of the EMQX repository at `ref`."""
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{ref}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def reference_lines(repo: Path, ref: str) -> list[str]:
    """The reference file's lines: a header, then one key path a line, `= values` after
    an enum's path."""
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    sources: dict[str, str] = {}
    keys: dict[str, tuple[str, ...]] = {root: () for root in EXTRA_ROOTS}
    for prefix, functions in SECTIONS:
        for path, head in functions:
            source = sources.setdefault(path, read(repo, ref, path))
            for found in field_names(clause_body(source, head)):
                key = f"{prefix}.{found.name}" if prefix else found.name
                keys[key] = keys.get(key) or found.enum
    files = sorted({path for _, functions in SECTIONS for path, _ in functions})
    header = [
        f"# EMQX {ref} (github.com/emqx/emqx, commit {commit}): the configuration keys",
        "# deploy/emqx/emqx.conf may use, read by tests/scale/emqx_schema_keys.py from",
        *(f"#   {path}" for path in files),
        "# `*` is any name, `[]` an array element; `= a b c` lists an enum's values.",
        "# Regenerate: .venv/bin/python -m tests.scale.emqx_schema_keys /path/to/emqx " + ref,
    ]
    body = [f"{key} = {' '.join(enum)}" if enum else key for key, enum in sorted(keys.items())]
    return header + body


def main(argv: list[str]) -> int:
    """Write the reference file from an EMQX checkout (`repo`, `ref`)."""
    if len(argv) != 2:
        print(__doc__)
        return 2
    lines = reference_lines(Path(argv[0]), argv[1])
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} lines written to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
