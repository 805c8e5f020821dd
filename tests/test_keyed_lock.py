"""Per-key locks: same key takes turns, other keys pass, nothing is kept afterwards."""

from __future__ import annotations

import threading

from servicekit.keyed_lock import KeyedLock


def test_the_same_key_waits_and_another_key_does_not() -> None:
    locks = KeyedLock()
    inside = threading.Event()
    release = threading.Event()
    second_in = threading.Event()

    def first() -> None:
        with locks.hold("a"):
            inside.set()
            release.wait(10)

    def second() -> None:
        with locks.hold("a"):
            second_in.set()

    holder = threading.Thread(target=first)
    holder.start()
    assert inside.wait(10)
    waiter = threading.Thread(target=second)
    waiter.start()
    with locks.hold("b"):  # another key: no waiting on "a"
        assert len(locks) == 2
    assert not second_in.is_set(), "the same key got in while it was held"
    release.set()
    assert second_in.wait(10)
    holder.join(10)
    waiter.join(10)
    assert len(locks) == 0, "a key's lock outlived its users"


def test_a_failure_inside_releases_the_key() -> None:
    locks = KeyedLock()
    try:
        with locks.hold(7):
            raise ValueError("boom")
    except ValueError:
        pass
    with locks.hold(7):
        assert len(locks) == 1
    assert len(locks) == 0
