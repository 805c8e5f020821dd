"""The gateway's access parts without a broker: trust kept on disk, the local count,
feedback patterns, policy settings and Wiegand wiring in board profiles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from pydantic import ValidationError

from contract.credential_payloads import CredentialMap, Revocations
from contract.payloads import Decision, Direction, Reason
from contract.tokens import Scope
from firmware_bridge.wiegand import WiegandCard, decode_wiegand, encode_wiegand
from gateway.access import AccessDesk, wiegand_credential
from gateway.access_memory import AccessMemory
from gateway.access_rules import AccessState, CardCredential, FaceCredential, QrCredential
from gateway.config import PolicySettings, parse_hours
from gateway.feedback import FeedbackClass, feedback_class, pattern_for
from gateway.occupancy import LocalOccupancy
from gateway.trust_store import FILE_NAME, TrustStore, load_trust_file
from hardware.profile import ProfileError, parse_profile
from tests.support.tokens import MINT_VERSION, TokenMint

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def revocations(version: int, *numbers: int) -> Revocations:
    return Revocations(version=version, issued_at=NOW, worker_numbers=list(numbers))


def test_trust_survives_a_restart_and_an_older_list_never_wins(tmp_path: Path) -> None:
    mint = TokenMint()
    store = TrustStore(tmp_path, "cs-0001")
    assert store.apply(mint.keys())
    assert store.apply(revocations(5, 77))
    assert not store.apply(revocations(4)), "an older list must not undo a revocation"
    assert not store.apply(revocations(5)), "nor an equal version"
    assert not store.apply(
        CredentialMap(station_id="cs-0002", version=9, issued_at=NOW, entries=[])
    ), "another station's map"

    again = TrustStore(tmp_path, "cs-0001")
    assert again.trust.keys_version == MINT_VERSION
    assert again.trust.revocations.workers == {77}
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME], "no temporary file left"


def test_a_damaged_trust_file_starts_empty_and_a_bad_part_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"\x00{not json")
    assert TrustStore(tmp_path, "cs-0001").trust.keys_version == 0
    document = {
        "format": 1,
        "keys": {"schema": "keys/1", "version": 3},  # incomplete
        "revocations": json.loads(revocations(2, 9).to_json()),
    }
    path.write_text(json.dumps(document))
    assert set(load_trust_file(path, "cs-0001")) == {"revocations"}
    store = TrustStore(tmp_path, "cs-0001")
    assert (store.trust.keys_version, store.trust.revocations.workers) == (0, frozenset({9}))


def test_a_station_without_a_location_admits_only_tokens_for_any_station(
    tmp_path: Path,
) -> None:
    mint = TokenMint()
    desk = AccessDesk(
        "cs-0001",
        PolicySettings().policy(),
        TrustStore(tmp_path, "cs-0001"),
        AccessMemory(tmp_path),
    )
    desk.trust_store.apply(mint.keys())
    now = datetime.now(UTC)

    def present(token: str) -> Reason:
        return desk.present(
            QrCredential(token), "main", Direction.IN, now, 0.0, lambda: True
        ).reason

    assert present(mint.token()) is Reason.GRANTED
    assert present(mint.token(scope=Scope.station(4242))) is Reason.WRONG_SCOPE
    assert present(mint.token(scope=Scope.region(430000))) is Reason.WRONG_SCOPE


def test_a_grant_the_door_refuses_is_lockdown_and_is_not_remembered(tmp_path: Path) -> None:
    mint = TokenMint()
    desk = AccessDesk(
        "cs-0001",
        PolicySettings().policy(),
        TrustStore(tmp_path, "cs-0001"),
        AccessMemory(tmp_path),
    )
    desk.trust_store.apply(mint.keys())
    token, now = mint.token(), datetime.now(UTC)
    refused = desk.present(QrCredential(token), "main", Direction.IN, now, 0.0, lambda: False)
    assert (refused.decision, refused.reason) == (Decision.DENIED, Reason.LOCKDOWN)
    assert desk.occupancy == 0
    # Once lockdown ends the same token still works: it was never used.
    assert desk.present(QrCredential(token), "main", Direction.IN, now, 0.0, lambda: True).granted
    assert desk.occupancy == 1


@pytest.mark.parametrize(
    "content", [b"\x00{not json", b"[]", b'{"format": 2}', b'{"format": 1, "replay": [[1]]}']
)
def test_a_damaged_access_memory_starts_empty(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "access.json").write_bytes(content)
    state = AccessMemory(tmp_path).load()
    assert (len(state.replay), dict(state.passback.entered_at)) == (0, {})


def test_a_token_another_gateway_let_in_is_refused_and_an_old_one_costs_no_write(
    tmp_path: Path,
) -> None:
    mint = TokenMint()
    desk = AccessDesk(
        "cs-0001",
        PolicySettings().policy(),
        TrustStore(tmp_path, "cs-0001"),
        AccessMemory(tmp_path),
    )
    desk.trust_store.apply(mint.keys())
    now = datetime.now(UTC)
    desk.used_elsewhere((1, int(now.timestamp()) - 3600), now)
    desk.flush()
    assert not (tmp_path / "access.json").exists(), "an hour-old token was written down"
    token = mint.token(worker_number=7, not_before=now)
    desk.used_elsewhere((7, int(now.timestamp())), now)
    refused = desk.present(QrCredential(token), "main", Direction.IN, now, 0.0, lambda: True)
    assert refused.reason is Reason.REPLAYED
    desk.flush()
    assert AccessMemory(tmp_path).load().replay.seen((7, int(now.timestamp())), now.timestamp())


def test_the_access_memory_writes_the_latest_state_off_the_doors_path(tmp_path: Path) -> None:
    memory = AccessMemory(tmp_path)
    state = AccessState()
    for n in range(200):
        state = AccessState(state.replay.with_token((n, 1000), 2000.0, 1500.0), state.passback)
        memory.save(state)  # returns at once; the writer keeps only the latest
    assert memory.flush()
    assert AccessMemory(tmp_path).load().replay == state.replay


def test_the_local_count_never_goes_negative_and_the_central_wins() -> None:
    count = LocalOccupancy()
    count = count.after_access(Decision.GRANTED, Direction.IN)
    count = count.after_access(Decision.DENIED, Direction.IN)
    assert count.count == 1
    count = count.after_access(Decision.GRANTED, Direction.OUT).left().left()
    assert count.count == 0
    assert count.corrected(7).count == 7
    assert count.corrected(-1).count == 0


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (Reason.GRANTED, FeedbackClass.GRANTED),
        (Reason.FULL, FeedbackClass.FULL),
        (Reason.REVOKED, FeedbackClass.DENIED),
        (Reason.CLOSED, FeedbackClass.DENIED),
        (Reason.THROTTLED, FeedbackClass.DENIED),
    ],
)
def test_each_reason_has_its_feedback(reason: Reason, shown: FeedbackClass) -> None:
    assert feedback_class(reason) is shown


def test_feedback_patterns_tell_the_classes_apart() -> None:
    granted, denied, full = (pattern_for(r) for r in (Reason.GRANTED, Reason.EXPIRED, Reason.FULL))
    assert granted.red is None and granted.green is not None
    assert denied.green is None and denied.red is not None and denied.red.times == 3
    assert full.buzzer is not None and full.buzzer.times == 2
    beeps = [p.buzzer for p in (granted, denied, full)]
    assert len({(b.on_s, b.times) for b in beeps if b is not None}) == 3


def test_opening_hours_are_parsed_and_bad_ones_named() -> None:
    assert parse_hours("24h").always_open
    hours = parse_hours(["06:00-12:00", "22:00-24:00"])
    assert hours.is_open(datetime(2026, 11, 23, 23, 30))
    assert not hours.is_open(datetime(2026, 11, 23, 13, 0))
    assert parse_hours(["22:00-06:00"]).intervals[0].closes == time(6)
    for bad in ("always", [], ["6-23"], ["25:00-26:00"], ["10:00-24:30"]):
        with pytest.raises(ValueError, match=r"hours|HH:MM|24:00"):
            parse_hours(bad)


def test_policy_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="station_number and region_code"):
        PolicySettings(station_number=4242)
    with pytest.raises(ValidationError, match="time zone"):
        PolicySettings(time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="0-255"):
        PolicySettings(allowed_groups=[300])
    policy = PolicySettings(station_number=4242, region_code=430102, allowed_groups=[1]).policy()
    assert policy.location is not None and policy.allowed_groups == frozenset({1})


def test_a_wiegand_frame_becomes_a_face_or_a_card_by_its_whole_number() -> None:
    card = decode_wiegand(26, encode_wiegand(26, (12 << 16) | 345))
    assert isinstance(card, WiegandCard)
    assert wiegand_credential("face", card) == FaceCredential(str((12 << 16) | 345))
    assert wiegand_credential("card", card) == CardCredential("786777")


PROFILE = """
[board]
model = "test"

[[doors]]
id = "front"
[doors.relay]
pin = 17
polarity = "fail_safe"
[doors.contact]
pin = 27
[doors.wiegand]
d0 = 4
d1 = {d1}
kind = "face"
[doors.feedback]
green = 18
red = 8
buzzer = 7
"""


def test_a_wiegand_reader_and_feedback_in_a_profile_are_validated() -> None:
    door = parse_profile(PROFILE.format(d1=12)).doors[0]
    assert door.wiegand is not None and (door.wiegand.bits, door.wiegand.kind) == (26, "face")
    assert door.feedback is not None and door.feedback.buzzer == 7
    with pytest.raises(ProfileError, match=r"GPIO17 is used twice.*doors\[0\]\.wiegand\.d1"):
        parse_profile(PROFILE.format(d1=17))
    with pytest.raises(ProfileError, match="GPIO7 is used twice"):
        parse_profile(PROFILE.format(d1=7))
    with pytest.raises(ProfileError, match="kind"):
        parse_profile(PROFILE.format(d1=12).replace('kind = "face"', ""))
