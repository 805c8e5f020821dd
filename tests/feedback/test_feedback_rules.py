"""The pure parts of workers' reports: text rules, proof of work, rate windows, photos."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dashboard.core.rate_window import RateWindow
from dashboard.core.worker_voice import (
    MAX_TEXT_CHARS,
    Category,
    ChallengeError,
    FeedbackStatus,
    FeedbackTextError,
    alert_detail,
    check_answer,
    clean_text,
    make_challenge,
    problem_status,
    solve,
)
from dashboard.services.feedback_photos import MAX_SIDE, PhotoError, clean_photo
from tests.feedback.support import GPS_TAG, jpeg_with_gps

KEY = b"k" * 32


def test_text_is_kept_as_written_without_control_characters() -> None:
    assert clean_text("  门锁坏了\u0000\u200b\n请修  ") == "门锁坏了\n请修"
    # Markup stays the characters it is; pages show it as text.
    assert clean_text("<script>alert(1)</script>") == "<script>alert(1)</script>"
    assert clean_text("x" * MAX_TEXT_CHARS) == "x" * MAX_TEXT_CHARS
    for bad in ("", " \n\t ", "\u0000", "x" * (MAX_TEXT_CHARS + 1)):
        with pytest.raises(FeedbackTextError):
            clean_text(bad)


def test_a_problem_reads_as_its_alert_stands() -> None:
    assert problem_status("open") is FeedbackStatus.RECEIVED
    assert problem_status("acknowledged") is FeedbackStatus.IN_PROGRESS
    assert problem_status("resolved") is FeedbackStatus.DONE
    detail = alert_detail(Category.OCCUPANCY, 3, "shows space, is full", "12 of 12")
    assert detail.startswith("3 worker reports: occupancy (the station shows 12 of 12)")
    assert alert_detail(Category.WATER, 1, "no water", None).startswith("1 worker report: water.")


def test_a_challenge_counts_only_solved_unexpired_and_as_given() -> None:
    challenge = make_challenge(KEY, now=1000.0, ttl_s=600, bits=12, salt="abc")
    nonce = solve(challenge.text, challenge.bits)
    check_answer(KEY, challenge.text, nonce, now=1500.0)
    with pytest.raises(ChallengeError, match="expired"):
        check_answer(KEY, challenge.text, nonce, now=1601.0)
    with pytest.raises(ChallengeError, match="not one this central gave"):
        check_answer(b"other" * 8, challenge.text, nonce, now=1500.0)
    forged = challenge.text.replace(".12.", ".0.")
    with pytest.raises(ChallengeError, match="not one this central gave"):
        check_answer(KEY, forged, "0", now=1500.0)
    wrong = next(
        str(n) for n in range(10_000) if str(n) != nonce and not _solves(challenge.text, n)
    )
    with pytest.raises(ChallengeError, match="not solved"):
        check_answer(KEY, challenge.text, wrong, now=1500.0)
    with pytest.raises(ChallengeError):
        check_answer(KEY, "garbage", "0", now=1500.0)


def _solves(text: str, nonce: int) -> bool:
    try:
        check_answer(KEY, text, str(nonce), now=1500.0)
    except ChallengeError:
        return False
    return True


def test_a_rate_window_slides() -> None:
    window = RateWindow(limit=2, window_s=60, max_keys=2)
    assert window.take("a", 0) == 0 and window.take("a", 10) == 0
    assert window.take("a", 20) == pytest.approx(40)
    assert window.take("a", 60.5) == 0, "the first use has left the window"
    assert window.take("b", 61) == 0 and window.take("c", 62) == 0
    # Past max_keys the quietest key is forgotten: "a" starts again.
    assert window.take("a", 63) == 0


def test_a_photo_loses_its_gps_position_and_is_shrunk() -> None:
    original = jpeg_with_gps(3000, 2000)
    assert GPS_TAG in Image.open(io.BytesIO(original)).getexif()
    kept = clean_photo(original)
    image = Image.open(io.BytesIO(kept))
    assert image.format == "JPEG"
    assert max(image.size) == MAX_SIDE and image.size == (1600, 1067)
    assert len(image.getexif()) == 0, "no EXIF at all"
    assert b"Exif" not in kept and b"GPS" not in kept


def test_a_transparent_png_becomes_a_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(out, "PNG")
    image = Image.open(io.BytesIO(clean_photo(out.getvalue())))
    assert image.format == "JPEG" and image.size == (40, 30) and image.mode == "RGB"


@pytest.mark.parametrize(
    "data",
    [b"", b"MZ\x90\x00 not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 100, b"GIF89a"],
)
def test_bytes_that_are_not_an_image_are_refused(data: bytes) -> None:
    with pytest.raises(PhotoError, match="not an image"):
        clean_photo(data)
