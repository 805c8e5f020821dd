"""What a worker sees and hears at the door after a decision. Pure: reason in, pattern out.

Three classes, told apart by colour and by the number of beeps, so that they work for
someone who cannot see the LEDs well or cannot hear the buzzer over traffic:

| class | when | green LED | red LED | buzzer |
|---|---|---|---|---|
| granted | the door opens | on for 1 s | off | one short beep |
| denied | any refusal but "full" | off | blinks 3 times | one long beep |
| full | the station is full | blinks 3 times | blinks 3 times, together (amber) | two beeps |

"Full" gets its own pattern because it is the one refusal the worker can do nothing
about at this door: the pass is fine, they should try the next station.

`gateway/feedback_io.py` plays a pattern on gpiozero LEDs and a buzzer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from contract.payloads import Reason


class FeedbackClass(StrEnum):
    """How a decision is shown at the door."""

    GRANTED = "granted"
    DENIED = "denied"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class Blink:
    """One output switched on for `on_s`, off for `off_s`, `times` times."""

    on_s: float
    off_s: float
    times: int


@dataclass(frozen=True, slots=True)
class Pattern:
    """What each output does; None leaves it off."""

    green: Blink | None
    red: Blink | None
    buzzer: Blink | None


PATTERNS: Final[dict[FeedbackClass, Pattern]] = {
    FeedbackClass.GRANTED: Pattern(green=Blink(1.0, 0.0, 1), red=None, buzzer=Blink(0.1, 0.0, 1)),
    FeedbackClass.DENIED: Pattern(green=None, red=Blink(0.2, 0.2, 3), buzzer=Blink(0.8, 0.0, 1)),
    FeedbackClass.FULL: Pattern(
        green=Blink(0.4, 0.3, 3), red=Blink(0.4, 0.3, 3), buzzer=Blink(0.15, 0.15, 2)
    ),
}


def feedback_class(reason: Reason) -> FeedbackClass:
    """The class a decision's reason is shown as."""
    if reason is Reason.GRANTED:
        return FeedbackClass.GRANTED
    if reason is Reason.FULL:
        return FeedbackClass.FULL
    return FeedbackClass.DENIED


def pattern_for(reason: Reason) -> Pattern:
    """The pattern that shows `reason` at the door."""
    return PATTERNS[feedback_class(reason)]
