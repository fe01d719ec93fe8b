"""Schedules: when to try again (`retry`) or run again (`repeat`).

A `Schedule[Out, In]` is a recipe for a sequence of decisions. Each time the effect
ends (failed, for `retry`; succeeded, for `repeat`), the schedule is given that input
and the current time, and answers: stop, or go on after some delay (with an output
such as the attempt count or the delay). Each run of `retry`/`repeat` starts a fresh
schedule. All waiting goes through the fiber's clock, so a `TestClock` drives
schedules without real time passing.

>>> from effectpy import Effect, Schedule, run_sync
>>> attempts = []
>>> def flaky() -> Effect[str, ConnectionError]:
...     def call() -> Effect[str, ConnectionError]:
...         attempts.append(1)
...         if len(attempts) < 3:
...             return Effect.fail(ConnectionError("refused"))
...         return Effect.succeed("connected")
...     return Effect.suspend(call)
>>> run_sync(flaky().retry(Schedule.recurs(5)))
'connected'
>>> len(attempts)
3
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

from ._core.clock import check_duration

if TYPE_CHECKING:
    from .effect import Effect

Out_co = TypeVar("Out_co", covariant=True)
In_contra = TypeVar("In_contra", contravariant=True)
Out = TypeVar("Out")
Out2 = TypeVar("Out2")
In = TypeVar("In")

__all__ = ["Decision", "Schedule", "Step"]


@final
@dataclass(frozen=True, slots=True)
class Decision(Generic[Out_co]):
    """One step of a schedule: go on after `delay` seconds (None: stop), with `output`.
    `effect`, if set, runs before the wait (from `tap_input`/`tap_output`)."""

    delay: float | None
    output: Out_co
    effect: Effect[Any, Any, Any] | None = None

    @property
    def done(self) -> bool:
        return self.delay is None


Step = Callable[[float, Any], Decision[Any]]
"""A running schedule: `step(now, input)` gives the next decision."""


def _then(first: Effect[Any, Any, Any] | None, second: Effect[Any, Any, Any] | None) -> Any:
    if first is None:
        return second
    if second is None:
        return first
    return first.and_then(second)


@final
class Schedule(Generic[Out_co, In_contra]):
    """A recurrence policy with output `Out` that reads inputs `In`."""

    __slots__ = ("_make", "_name")

    def __init__(self, make: Callable[[], Step], name: str) -> None:
        self._make = make
        self._name = name

    def __repr__(self) -> str:
        return f"Schedule({self._name})"

    @property
    def name(self) -> str:
        """How the schedule shows itself: how it was built, or what `named` gave it."""
        return self._name

    def start(self) -> Step:
        """A fresh running instance of the schedule (what `retry`/`repeat` use)."""
        return self._make()

    def delays(self, count: int, input: object = None) -> list[float | None]:
        """The first `count` delays this schedule would produce for a constant input,
        with time standing still: handy to see a policy at a glance.

        >>> from effectpy import Schedule
        >>> Schedule.exponential(0.1).intersect(Schedule.recurs(3)).delays(5)
        [0.1, 0.2, 0.4, None, None]
        """
        step = self._make()
        result: list[float | None] = []
        done = False
        for _ in range(count):
            if done:
                result.append(None)
                continue
            decision = step(0.0, input)
            delay = decision.delay
            result.append(None if delay is None else round(delay, 12))
            done = delay is None
        return result

    # -- constructors -------------------------------------------------------------

    @staticmethod
    def forever() -> Schedule[int, object]:
        """Recur without end and without delay; output: how many decisions came
        before this one (0, 1, 2, ...)."""

        def make() -> Step:
            count = -1

            def step(now: float, input: object) -> Decision[int]:
                nonlocal count
                count += 1
                return Decision(0.0, count)

            return step

        return Schedule(make, "forever")

    @staticmethod
    def recurs(times: int) -> Schedule[int, object]:
        """Recur `times` times, without delay; output: the count (it is `times` at
        the decision that stops).

        >>> from effectpy import Schedule
        >>> Schedule.recurs(2).delays(4)
        [0.0, 0.0, None, None]
        """
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            raise ValueError(f"Schedule.recurs needs an int >= 0, got {times!r}")
        return (
            Schedule.forever().while_output(lambda count: count < times).named(f"recurs({times})")
        )

    @staticmethod
    def spaced(seconds: float) -> Schedule[int, object]:
        """Recur without end, waiting `seconds` each time; output: the count.

        >>> from effectpy import Schedule
        >>> Schedule.spaced(1.5).delays(3)
        [1.5, 1.5, 1.5]
        """
        interval = check_duration(seconds, "Schedule.spaced")
        return Schedule.forever().with_delays(lambda _: interval).named(f"spaced({seconds})")

    @staticmethod
    def fixed(seconds: float) -> Schedule[int, object]:
        """Recur on a fixed grid of `seconds` from the first decision; an effect that
        overruns its slot runs again at once, and missed slots do not pile up."""
        interval = check_duration(seconds, "Schedule.fixed")
        if interval == 0:
            raise ValueError("Schedule.fixed needs an interval > 0")

        def make() -> Step:
            count = -1
            target: float | None = None

            def step(now: float, input: object) -> Decision[int]:
                nonlocal count, target
                count += 1
                target = now + interval if target is None else target + interval
                if target < now:  # overran: go now, and re-anchor the grid here
                    target = now
                return Decision(target - now, count)

            return step

        return Schedule(make, f"fixed({seconds})")

    @staticmethod
    def exponential(base: float, factor: float = 2.0) -> Schedule[float, object]:
        """Recur without end, waiting `base * factor**n` before the n-th retry
        (0-based); output: that delay.

        >>> from effectpy import Schedule
        >>> Schedule.exponential(1.0, factor=3.0).delays(4)
        [1.0, 3.0, 9.0, 27.0]
        """
        start = check_duration(base, "Schedule.exponential")
        if not (isinstance(factor, int | float) and math.isfinite(factor) and factor >= 1):
            raise ValueError(f"Schedule.exponential: factor must be >= 1, got {factor!r}")

        def make() -> Step:
            n = 0

            def step(now: float, input: object) -> Decision[float]:
                nonlocal n
                try:
                    delay = start * factor**n
                except OverflowError:  # past the largest float: a wait without end
                    delay = math.inf if start else 0.0
                n += 1
                return Decision(delay, delay)

            return step

        return Schedule(make, f"exponential({base}, {factor})")

    @staticmethod
    def fibonacci(one: float) -> Schedule[float, object]:
        """Recur without end with delays `one, one, 2*one, 3*one, 5*one, ...`.

        >>> from effectpy import Schedule
        >>> Schedule.fibonacci(1.0).delays(6)
        [1.0, 1.0, 2.0, 3.0, 5.0, 8.0]
        """
        unit = check_duration(one, "Schedule.fibonacci")

        def make() -> Step:
            a, b = unit, unit

            def step(now: float, input: object) -> Decision[float]:
                nonlocal a, b
                delay = a
                a, b = b, a + b
                return Decision(delay, delay)

            return step

        return Schedule(make, f"fibonacci({one})")

    @staticmethod
    def exponential_backoff(
        base: float = 0.1,
        *,
        factor: float = 2.0,
        max_retries: int = 3,
        max_delay: float | None = 30.0,
        jitter: bool = True,
    ) -> Schedule[float, object]:
        """The ready-made retry policy (go-go-scope's `retry: 'exponential'`):
        exponential delays from `base`, jittered by ±20%, each capped at `max_delay`,
        at most `max_retries` retries.

        >>> from effectpy import Schedule
        >>> Schedule.exponential_backoff(jitter=False).delays(5)
        [0.1, 0.2, 0.4, None, None]
        """
        policy = Schedule.exponential(base, factor)
        if jitter:
            policy = policy.jittered()
        if max_delay is not None:
            cap = check_duration(max_delay, "Schedule.exponential_backoff")
            policy = policy.with_delays(lambda delay: min(delay, cap))
        return (
            policy.intersect(Schedule.recurs(max_retries))
            .map(lambda pair: pair[0])
            .named(f"exponential_backoff({base}, max_retries={max_retries})")
        )

    # -- combinators --------------------------------------------------------------

    def named(self, name: str) -> Schedule[Out_co, In_contra]:
        """The same schedule, shown as `name` (in its repr, and in those built on it).

        >>> from effectpy import Schedule
        >>> Schedule.spaced(0.5).up_to(10).named("poll")
        Schedule(poll)
        """
        if not isinstance(name, str):
            raise TypeError(f"Schedule.named expects a str, got {name!r}")
        return Schedule(self._make, name)

    def map(self, f: Callable[[Out_co], Out2]) -> Schedule[Out2, In_contra]:
        """Transform the outputs."""
        make = self._make

        def make_mapped() -> Step:
            inner = make()

            def step(now: float, input: Any) -> Decision[Out2]:
                d = inner(now, input)
                return Decision(d.delay, f(d.output), d.effect)

            return step

        return Schedule(make_mapped, f"{self._name}.map")

    def with_delays(self, f: Callable[[float], float]) -> Schedule[Out_co, In_contra]:
        """Replace each delay `d` by `f(d)` (a negative result is a defect)."""
        make = self._make

        def make_delayed() -> Step:
            inner = make()

            def step(now: float, input: Any) -> Decision[Any]:
                d = inner(now, input)
                if d.delay is None:
                    return d
                return Decision(check_duration(f(d.delay), "Schedule delay"), d.output, d.effect)

            return step

        return Schedule(make_delayed, self._name)

    def jittered(
        self, min: float = 0.8, max: float = 1.2, *, random: Callable[[], float] | None = None
    ) -> Schedule[Out_co, In_contra]:
        """Multiply each delay by a random factor in `[min, max]` (spreads out
        retries from many clients). `random` (a `() -> [0, 1)` function) makes it
        deterministic in tests.

        >>> from effectpy import Schedule
        >>> Schedule.spaced(10).jittered(0.5, 1.5, random=lambda: 0.5).delays(2)
        [10.0, 10.0]
        """
        if not (0 <= min <= max):
            raise ValueError(f"jittered needs 0 <= min <= max, got min={min!r}, max={max!r}")
        draw = _random.random if random is None else random
        return self.with_delays(lambda delay: delay * (min + (max - min) * draw())).named(
            f"{self._name}.jittered({min}, {max})"
        )

    def union(self: Schedule[Out, In], other: Schedule[Out2, In]) -> Schedule[tuple[Out, Out2], In]:
        """Go on while either goes on, with the shorter delay."""
        return _combine(self, other, either=True)

    def intersect(
        self: Schedule[Out, In], other: Schedule[Out2, In]
    ) -> Schedule[tuple[Out, Out2], In]:
        """Go on while both go on, with the longer delay.

        >>> from effectpy import Schedule
        >>> Schedule.spaced(1).intersect(Schedule.recurs(2)).delays(3)
        [1.0, 1.0, None]
        """
        return _combine(self, other, either=False)

    def and_then(self: Schedule[Out, In], other: Schedule[Out2, In]) -> Schedule[Out | Out2, In]:
        """This schedule until it stops, then `other`.

        >>> from effectpy import Schedule
        >>> Schedule.recurs(1).and_then(Schedule.spaced(5).intersect(Schedule.recurs(1))).delays(4)
        [0.0, 5.0, None, None]
        """
        first_make, second_make = self._make, other._make

        def make() -> Step:
            first = first_make()
            second: Step | None = None

            def step(now: float, input: Any) -> Decision[Any]:
                nonlocal second
                if second is None:
                    d = first(now, input)
                    if d.delay is not None:
                        return d
                    second = second_make()
                return second(now, input)

            return step

        return Schedule(make, f"{self._name}.and_then({other._name})")

    def up_to(self, seconds: float) -> Schedule[Out_co, In_contra]:
        """Stop once `seconds` have passed since the first decision.

        >>> from effectpy import Schedule
        >>> Schedule.spaced(1).up_to(10).delays(2)
        [1.0, 1.0]
        """
        limit = check_duration(seconds, "Schedule.up_to")
        make = self._make

        def make_bounded() -> Step:
            inner = make()
            start: float | None = None

            def step(now: float, input: Any) -> Decision[Any]:
                nonlocal start
                if start is None:
                    start = now
                d = inner(now, input)
                if d.delay is not None and now - start >= limit:
                    return Decision(None, d.output)
                return d

            return step

        return Schedule(make_bounded, f"{self._name}.up_to({seconds})")

    def while_input(self: Schedule[Out, In], pred: Callable[[In], bool]) -> Schedule[Out, In]:
        """Go on only while `pred(input)` holds (for `retry`, the input is the error).

        >>> from effectpy import Schedule
        >>> only_timeouts = Schedule.recurs(3).while_input(lambda e: isinstance(e, TimeoutError))
        >>> only_timeouts.delays(2, input=ValueError())
        [None, None]
        """
        return self._check(lambda d, input: pred(input), "while_input")

    def while_output(self, pred: Callable[[Out_co], bool]) -> Schedule[Out_co, In_contra]:
        """Go on only while `pred(output)` holds."""
        return self._check(lambda d, input: pred(d.output), "while_output")

    def until_input(self: Schedule[Out, In], pred: Callable[[In], bool]) -> Schedule[Out, In]:
        """Stop as soon as `pred(input)` holds."""
        return self._check(lambda d, input: not pred(input), "until_input")

    def until_output(self, pred: Callable[[Out_co], bool]) -> Schedule[Out_co, In_contra]:
        """Stop as soon as `pred(output)` holds."""
        return self._check(lambda d, input: not pred(d.output), "until_output")

    def _check(self, keep: Callable[[Decision[Any], Any], bool], name: str) -> Schedule[Any, Any]:
        make = self._make

        def make_checked() -> Step:
            inner = make()

            def step(now: float, input: Any) -> Decision[Any]:
                d = inner(now, input)
                if d.delay is not None and not keep(d, input):
                    return Decision(None, d.output, d.effect)
                return d

            return step

        return Schedule(make_checked, f"{self._name}.{name}")

    def tap_input(
        self: Schedule[Out, In], f: Callable[[In], Effect[Any, Any, Any]]
    ) -> Schedule[Out, In]:
        """Run the effect `f(input)` at each decision (before the wait): to log
        retries, say."""
        return self._tap(lambda d, input: f(input), "tap_input")

    def tap_output(
        self, f: Callable[[Out_co], Effect[Any, Any, Any]]
    ) -> Schedule[Out_co, In_contra]:
        """Run the effect `f(output)` at each decision (before the wait)."""
        return self._tap(lambda d, input: f(d.output), "tap_output")

    def _tap(
        self, f: Callable[[Decision[Any], Any], Effect[Any, Any, Any]], name: str
    ) -> Schedule[Any, Any]:
        make = self._make

        def make_tapped() -> Step:
            inner = make()

            def step(now: float, input: Any) -> Decision[Any]:
                d = inner(now, input)
                return Decision(d.delay, d.output, _then(d.effect, f(d, input)))

            return step

        return Schedule(make_tapped, f"{self._name}.{name}")


def _combine(a: Schedule[Any, Any], b: Schedule[Any, Any], *, either: bool) -> Schedule[Any, Any]:
    make_a, make_b = a._make, b._make

    def make() -> Step:
        step_a, step_b = make_a(), make_b()

        def step(now: float, input: Any) -> Decision[Any]:
            da, db = step_a(now, input), step_b(now, input)
            output = (da.output, db.output)
            effect = _then(da.effect, db.effect)
            delays = [d for d in (da.delay, db.delay) if d is not None]
            if either:
                return Decision(min(delays) if delays else None, output, effect)
            if len(delays) < 2:
                return Decision(None, output, effect)
            return Decision(max(delays), output, effect)

        return step

    word = "union" if either else "intersect"
    return Schedule(make, f"{a.name}.{word}({b.name})")
