"""`deploy/emqx/emqx.conf` uses only keys and enum values EMQX 5 knows, and
`deploy/emqx/acl.conf` gives each kind of account what docs/security.md's table (and
`servicekit.broker_accounts`, which writes Mosquitto's rules) gives it.

EMQX cannot run here, so the keys are checked against `emqx_schema_keys.txt`, read from
EMQX's schema sources by `emqx_schema_keys.py` (its header names the release and commit).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyhocon import ConfigFactory, ConfigTree

from contract.payloads import SLUG_PATTERN
from contract.topics import home_assistant_node_id
from servicekit.broker_accounts import central_acl, gateway_acl, maintainer_acl, viewer_acl

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "emqx"
REFERENCE = Path(__file__).with_name("emqx_schema_keys.txt")
# Maps whose keys are names chosen by the user (a listener's), not schema fields.
NAMED = ("listeners.tcp", "listeners.ssl")


def schema() -> dict[str, set[str] | None]:
    """Every valid key path, with its enum values when it is an enum."""
    keys: dict[str, set[str] | None] = {}
    for line in REFERENCE.read_text("utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        path, _, values = line.partition(" = ")
        keys[path] = set(values.split()) if values else None
        # A key's parents are structs, arrays and named maps: keys too.
        parts = path.split(".")
        for end in range(1, len(parts)):
            keys.setdefault(".".join(parts[:end]), None)
    return keys


def key_paths(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every key path of a parsed config and its value; `[]` for an array element, `*`
    for a named listener."""
    if isinstance(value, ConfigTree):
        for key, child in value.items():
            name = "*" if path in NAMED else key
            child_path = f"{path}.{name}" if path else name
            yield child_path, child
            yield from key_paths(child, child_path)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, ConfigTree):
                yield from key_paths(item, f"{path}.[]")


def problems(text: str) -> list[str]:
    """What in an emqx.conf text EMQX's schema would not accept."""
    known = schema()
    found = []
    for path, value in key_paths(ConfigFactory.parse_string(text)):
        if path not in known:
            found.append(f"unknown key {path}")
        elif (allowed := known[path]) is not None and str(value).lower() not in allowed:
            found.append(f"{path} = {value} is not one of {sorted(allowed)}")
    return found


def shipped() -> str:
    return (DEPLOY / "emqx.conf").read_text("utf-8")


def test_every_key_and_enum_value_is_in_emqx_5s_schema() -> None:
    assert problems(shipped()) == []
    paths = {path for path, _ in key_paths(ConfigFactory.parse_string(shipped()))}
    # The settings the replicas rely on are there, not just valid.
    assert {
        "mqtt.shared_subscription_strategy",
        "mqtt.session_expiry_interval",
        "mqtt.max_inflight",
        "mqtt.max_mqueue_len",
        "mqtt.mqueue_store_qos0",
        "mqtt.use_username_as_clientid",
        "cluster.static.seeds",
        "listeners.tcp.*.bind",
        "listeners.ssl.*.bind",
        "listeners.ssl.*.messages_rate",
        "authorization.sources.[].path",
    } <= paths


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("shared_subscription_strategy", "shared_subscription_stratgy", "unknown key mqtt."),
        ("= hash_clientid", "= hash_client", "mqtt.shared_subscription_strategy = hash_client"),
        ("mac_fun = sha512", "mac_fun = sha513", "mac_fun = sha513"),
        ("tcp_options.nodelay", "tcp_options.no_delay", "unknown key listeners.tcp.*.tcp_opt"),
        ("discovery_strategy = static", "discovery_strategy = statc", "discovery_strategy"),
        ("messages_rate =", "message_rate =", "unknown key listeners.ssl.*.message_rate"),
    ],
)
def test_a_wrong_key_or_value_is_caught(old: str, new: str, problem: str) -> None:
    assert old in shipped()
    found = problems(shipped().replace(old, new, 1))
    assert any(problem in p for p in found), found


def test_the_settings_replicas_rely_on() -> None:
    config = ConfigFactory.parse_string(shipped())
    assert config["mqtt.shared_subscription_strategy"] == "hash_clientid"
    assert config["mqtt.mqueue_store_qos0"] is False
    assert config["mqtt.max_mqueue_len"] >= 100_000
    assert config["authorization.no_match"] == "deny"
    assert config["authentication"][0]["password_hash_algorithm"]["name"] == "pbkdf2"
    assert config["authorization.sources"][0]["path"].endswith("/acl.conf")
    attrs = {a["set_as_attr"]: a["expression"] for a in config["mqtt.client_attrs_init"]}
    # `client_attrs` below evaluates these; they must stay what it assumes.
    assert attrs["station"] == "nth(1, tokens(username, '.'))"
    assert attrs["gateway"] == attrs["central_id"] == "nth(2, tokens(username, '.'))"
    assert "strlen(nth(1, tokens(username, '.')))" in attrs["ha_node"]


def test_only_the_gateways_listener_limits_each_clients_publish_rate() -> None:
    config = ConfigFactory.parse_string(shipped())
    # Per client on the gateways' TLS listener (docs/scale.md, "A gateway that floods"),
    # never on the plain one the centrals publish their marks and commands through.
    assert config["listeners.ssl.default.messages_rate"] == "10/s"
    assert "messages_rate" not in config["listeners.tcp.default"]


# --- acl.conf ---------------------------------------------------------------------------

Term = str | tuple[Any, ...] | list[Any]
_TOKEN = re.compile(r'\s*(?:(?P<punct>[{}\[\],])|"(?P<string>(?:[^"\\]|\\.)*)"|(?P<atom>[a-z_]+))')


def parse_terms(text: str) -> list[Term]:
    """The rules of an EMQX ACL file: Erlang terms (tuples, lists, strings, atoms), each
    ended by a dot. Enough of Erlang for acl.conf, and no more."""
    text = re.sub(r"%.*", "", text)
    terms: list[Term] = []
    for chunk in re.split(r"\}\.\s*(?:\n|$)", text):
        if chunk.strip():
            term, rest = _term(chunk.strip() + "}")
            assert not rest.strip(), rest
            terms.append(term)
    return terms


def _term(text: str) -> tuple[Term, str]:
    match = _TOKEN.match(text)
    assert match is not None, text[:40]
    rest = text[match.end() :]
    if match["string"] is not None:
        return match["string"].encode().decode("unicode_escape"), rest
    if match["atom"] is not None:
        return match["atom"], rest
    closing = {"{": "}", "[": "]"}[match["punct"]]
    items: list[Term] = []
    while True:
        stripped = rest.lstrip()
        if stripped.startswith(closing):
            rest = stripped[1:]
            break
        item, rest = _term(rest)
        items.append(item)
        rest = rest.lstrip()
        if rest.startswith(","):
            rest = rest[1:]
    return (tuple(items) if closing == "}" else items), rest


def client_attrs(username: str) -> dict[str, str]:
    """What emqx.conf's `mqtt.client_attrs_init` gives a username (none without a dot)."""
    parts = username.split(".")
    if len(parts) < 2:
        return {}
    station, second = parts[0], parts[1]
    return {
        "station": station,
        "gateway": second,
        "central_id": second,
        "ha_node": f"yz_{len(station)}_{station}_{second}",
    }


def _matches(who: Term, username: str) -> bool:
    if who == "all":
        return True
    assert isinstance(who, tuple) and who[0] == "username", who
    if isinstance(who[1], tuple):
        return re.search(who[1][1], username) is not None
    return bool(who[1] == username)


def allowed(username: str) -> set[tuple[str, str]]:
    """(action, topic) pairs the ACL file lets `username` reach, rendered: the allow
    rules that match it before the first deny that does."""
    attrs = client_attrs(username)
    granted: set[tuple[str, str]] = set()
    for rule in parse_terms((DEPLOY / "acl.conf").read_text("utf-8")):
        assert isinstance(rule, tuple)
        if rule == ("deny", "all"):
            break
        permission, who, action, topics = rule
        if not _matches(who, username):
            continue
        if permission == "deny":
            assert topics == ["#"] and action == "all", "only a deny of everything is read"
            break
        for topic in topics:
            rendered = re.sub(r"\$\{client_attrs\.(\w+)\}", lambda m: attrs[m[1]], topic)
            for each in ("publish", "subscribe") if action == "all" else (action,):
                granted.add((each, rendered))
    return granted


def mosquitto_rules(lines: list[str]) -> set[tuple[str, str]]:
    """The same pairs from Mosquitto ACL lines: read is subscribe, write is publish.
    EMQX checks `$share/<group>/T` on T, so a line on a `$share/` filter has no twin."""
    pairs: set[tuple[str, str]] = set()
    for line in lines:
        _, access, topic = line.split()
        if topic.startswith("$share/"):
            continue
        if access in ("read", "readwrite"):
            pairs.add(("subscribe", topic))
        if access in ("write", "readwrite"):
            pairs.add(("publish", topic))
    return pairs


@pytest.mark.parametrize(
    ("username", "lines"),
    [
        ("cs-0001.gw-1", gateway_acl("cs-0001", "gw-1")),
        ("a_b.c", gateway_acl("a_b", "c")),
        ("central.central-1", central_acl("central-1")),
        ("alice", maintainer_acl()),
        ("wall-display", viewer_acl()),
    ],
)
def test_each_account_gets_what_the_mosquitto_rules_give_it(
    username: str, lines: list[str]
) -> None:
    assert allowed(username) == mosquitto_rules(lines)


def test_the_attributes_give_the_contracts_node_id() -> None:
    assert client_attrs("a_b.c")["ha_node"] == home_assistant_node_id("a_b", "c")


def test_no_account_outside_the_kinds_gets_anything() -> None:
    for username in ("anonymous.user.extra!", "Upper.Case", "central.", "-x", ""):
        assert allowed(username) == set(), username


def test_the_gateway_rule_accepts_exactly_slugs() -> None:
    rules = parse_terms((DEPLOY / "acl.conf").read_text("utf-8"))
    slug = SLUG_PATTERN.strip("^$")
    gateway_who = ("username", ("re", f"^{slug}\\.{slug}$"))
    assert sum(1 for rule in rules if rule[1] == gateway_who) == 2
