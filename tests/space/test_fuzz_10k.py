"""The issue's goal, as a run: 10,000 hostile structure strings, 0 tracebacks, 0 hangs.

Slow (a minute or two); ``pytest -m slow tests/space/test_fuzz_10k.py``, or run the file as a
script to print the figures: ``python tests/space/test_fuzz_10k.py [COUNT] [SEED]``. A "traceback"
is any exception that is not a ZenbenchError; a "hang" is an input over one second (an alarm stops
it after five, so a real hang is counted rather than blocking the run).
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hostile_structures import hostile_size, hostile_string, run_one

HANG_SECONDS = 1.0
ALARM_SECONDS = 5


class _Alarm(BaseException):
    pass


def _ring(signum: int, frame: FrameType | None) -> None:
    raise _Alarm


def fuzz(count: int = 10_000, seed: int = 0) -> dict[str, object]:
    """Outcome counts over ``count`` hostile strings, with the slowest example's time."""
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    slowest = 0.0
    previous = signal.signal(signal.SIGALRM, _ring)
    try:
        for _ in range(count):
            text, resolution, batch = hostile_string(rng), hostile_size(rng), hostile_size(rng)
            start = time.perf_counter()
            signal.alarm(ALARM_SECONDS)
            try:
                outcome = run_one(text, resolution, batch)
            except _Alarm:
                outcome = "hang"
            except Exception as error:
                outcome = "traceback"
                examples.setdefault(f"traceback {type(error).__name__}", text[:200])
            finally:
                signal.alarm(0)
            elapsed = time.perf_counter() - start
            slowest = max(slowest, elapsed)
            if outcome != "hang" and elapsed > HANG_SECONDS:
                outcome = "hang"
            if outcome == "hang":
                examples.setdefault("hang", text[:200])
            outcomes[outcome] += 1
    finally:
        signal.signal(signal.SIGALRM, previous)
    return {"count": count, "seed": seed, **outcomes, "slowest_s": round(slowest, 3), "examples": examples}


@pytest.mark.slow
def test_ten_thousand_hostile_strings() -> None:
    result = fuzz()
    assert result.get("traceback", 0) == 0 and result.get("hang", 0) == 0, result
    assert result.get("value", 0) > 0 and result.get("error", 0) > 0, result  # both outcomes are exercised


if __name__ == "__main__":
    import json

    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(fuzz(*args), indent=1, ensure_ascii=True))
