"""Schedules: the delays each constructor and combinator produces, how many times a
policy recurs, and the effects it taps in. A schedule is driven here by hand
(`schedule.start()` gives `step(now, input) -> Decision`) or through `repeat`/`retry`
under a `TestClock`, so time is whatever the test says it is."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effectpy import Clock, Effect, Exit, Schedule, TestClock, run_sync, run_sync_exit
from effectpy.schedule import Decision

PROPERTIES = settings(max_examples=150, deadline=None, database=None)

durations = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
positive_durations = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


def drive(
    schedule: Schedule[Any, Any], times: Sequence[float], input: object = None
) -> list[Decision[Any]]:
    """The decisions of one fresh run of `schedule`, made at the given times."""
    step = schedule.start()
    return [step(now, input) for now in times]


def delays_at(
    schedule: Schedule[Any, Any], times: Sequence[float], input: object = None
) -> list[float | None]:
    return [d.delay for d in drive(schedule, times, input)]


def outputs(schedule: Schedule[Any, Any], count: int, input: object = None) -> list[Any]:
    return [d.output for d in drive(schedule, [0.0] * count, input)]


def run_times(effect: Effect[Any, Any], schedule: Schedule[Any, Any]) -> list[float]:
    """The clock readings at each run of `effect` repeated by `schedule`, under a
    TestClock moved far enough for the whole repetition."""
    seen: list[float] = []
    tick = Clock.now().flat_map(lambda now: Effect.sync(lambda: seen.append(now)))
    program = (
        tick.and_then(effect)
        .repeat(schedule)
        .fork()
        .flat_map(lambda fiber: TestClock.adjust(1000).and_then(fiber.await_()))
    )
    run_sync(TestClock.provide(program))
    return seen


# -- constructors -----------------------------------------------------------------------


def test_recurs_n_gives_n_zero_delays_then_stops() -> None:
    assert Schedule.recurs(3).delays(6) == [0.0, 0.0, 0.0, None, None, None]


def test_recurs_zero_stops_at_the_first_decision() -> None:
    assert Schedule.recurs(0).delays(2) == [None, None]


def test_recurs_outputs_the_count_of_decisions_before() -> None:
    assert outputs(Schedule.recurs(2), 3) == [0, 1, 2]


def test_forever_recurs_without_end_and_without_delay() -> None:
    assert Schedule.forever().delays(5) == [0.0] * 5
    assert outputs(Schedule.forever(), 4) == [0, 1, 2, 3]


def test_spaced_waits_the_same_interval_every_time() -> None:
    assert Schedule.spaced(2.5).delays(4) == [2.5, 2.5, 2.5, 2.5]
    assert outputs(Schedule.spaced(2.5), 3) == [0, 1, 2]


def test_spaced_counts_its_interval_from_the_end_of_each_run() -> None:
    # Each run takes 0.25s: spaced waits 1s after it, so runs drift by the run time.
    assert run_times(Effect.sleep(0.25), Schedule.spaced(1).intersect(Schedule.recurs(3))) == [
        0.0,
        1.25,
        2.5,
        3.75,
    ]


def test_fixed_keeps_a_grid_from_the_first_decision() -> None:
    # Decisions made 0.5s into each slot wait only what is left of it.
    assert delays_at(Schedule.fixed(2), [0.0, 2.5, 4.5, 6.5]) == [2.0, 1.5, 1.5, 1.5]


def test_fixed_runs_at_once_after_an_overrun_and_missed_slots_do_not_pile_up() -> None:
    # The slot at 2 was missed (the run ended at 5): go at once, then 2s after that.
    assert delays_at(Schedule.fixed(2), [0.0, 5.0, 5.0]) == [2.0, 0.0, 2.0]


def test_fixed_runs_on_the_grid_whatever_each_run_takes() -> None:
    # The grid starts at the first decision (after the first run, as in Effect-TS); from
    # then on runs start 1s apart although each takes 0.25s.
    assert run_times(Effect.sleep(0.25), Schedule.fixed(1).intersect(Schedule.recurs(3))) == [
        0.0,
        1.25,
        2.25,
        3.25,
    ]


def test_exponential_multiplies_the_delay_by_the_factor_each_time() -> None:
    assert Schedule.exponential(0.5).delays(5) == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert Schedule.exponential(1, factor=3).delays(4) == [1.0, 3.0, 9.0, 27.0]
    assert Schedule.exponential(1, factor=1).delays(3) == [1.0, 1.0, 1.0]


def test_exponential_outputs_the_delay() -> None:
    assert outputs(Schedule.exponential(0.5), 3) == [0.5, 1.0, 2.0]


@PROPERTIES
@given(
    base=st.floats(min_value=1e-3, max_value=100, allow_nan=False),
    factor=st.floats(min_value=1, max_value=4, allow_nan=False),
    n=st.integers(min_value=0, max_value=12),
)
def test_exponential_nth_delay_is_base_times_factor_to_the_n(
    base: float, factor: float, n: int
) -> None:
    delay = delays_at(Schedule.exponential(base, factor), [0.0] * (n + 1))[-1]
    assert delay is not None
    assert math.isclose(delay, base * factor**n, rel_tol=1e-9)


def test_fibonacci_delays_follow_the_fibonacci_sequence() -> None:
    assert Schedule.fibonacci(1).delays(8) == [1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0]
    assert Schedule.fibonacci(0.5).delays(5) == [0.5, 0.5, 1.0, 1.5, 2.5]


@PROPERTIES
@given(one=positive_durations)
def test_each_fibonacci_delay_is_the_sum_of_the_two_before(one: float) -> None:
    d = delays_at(Schedule.fibonacci(one), [0.0] * 10)
    assert all(x is not None for x in d)
    values = [x for x in d if x is not None]
    for a, b, c in zip(values, values[1:], values[2:], strict=False):
        assert math.isclose(c, a + b, rel_tol=1e-9)


# -- jitter -----------------------------------------------------------------------------


def test_jittered_scales_each_delay_by_min_plus_the_drawn_share_of_the_range() -> None:
    draws = iter([0.0, 0.5, 0.75])
    jittered = Schedule.spaced(10).jittered(0.5, 1.5, random=lambda: next(draws))
    assert jittered.delays(3) == [5.0, 10.0, 12.5]


def test_jittered_draws_afresh_for_every_delay() -> None:
    calls: list[int] = []

    def draw() -> float:
        calls.append(1)
        return 0.5

    Schedule.exponential(1).jittered(random=draw).delays(4)
    assert len(calls) == 4


def test_jittered_keeps_the_stop_of_the_schedule_it_wraps() -> None:
    assert Schedule.recurs(2).jittered(random=lambda: 0.3).delays(4) == [0.0, 0.0, None, None]


@PROPERTIES
@given(
    delay=positive_durations,
    low=st.floats(min_value=0, max_value=2, allow_nan=False),
    spread=st.floats(min_value=0, max_value=2, allow_nan=False),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True, allow_nan=False),
)
def test_a_jittered_delay_stays_within_min_and_max_times_the_delay(
    delay: float, low: float, spread: float, draw: float
) -> None:
    high = low + spread
    [jittered] = delays_at(Schedule.spaced(delay).jittered(low, high, random=lambda: draw), [0.0])
    assert jittered is not None
    assert delay * low * (1 - 1e-9) <= jittered <= delay * high * (1 + 1e-9)


def test_jittered_by_default_stays_within_80_and_120_percent() -> None:
    for delay in Schedule.spaced(10).jittered().delays(200):
        assert delay is not None
        assert 8.0 <= delay <= 12.0


# -- combining schedules -----------------------------------------------------------------


@PROPERTIES
@given(a=durations, b=durations)
def test_intersect_waits_the_longer_delay(a: float, b: float) -> None:
    assert (
        delays_at(Schedule.spaced(a).intersect(Schedule.spaced(b)), [0.0, 1.0]) == [max(a, b)] * 2
    )


@PROPERTIES
@given(a=durations, b=durations)
def test_union_waits_the_shorter_delay(a: float, b: float) -> None:
    assert delays_at(Schedule.spaced(a).union(Schedule.spaced(b)), [0.0, 1.0]) == [min(a, b)] * 2


@PROPERTIES
@given(n=st.integers(min_value=0, max_value=10), m=st.integers(min_value=0, max_value=10))
def test_intersect_stops_when_either_stops_and_union_when_both_stop(n: int, m: int) -> None:
    both = Schedule.recurs(n).intersect(Schedule.recurs(m)).delays(25)
    either = Schedule.recurs(n).union(Schedule.recurs(m)).delays(25)
    assert both.index(None) == min(n, m)
    assert either.index(None) == max(n, m)


def test_union_goes_on_with_the_schedule_still_running_once_the_other_stops() -> None:
    union = Schedule.recurs(1).union(Schedule.spaced(2).intersect(Schedule.recurs(3)))
    assert union.delays(5) == [0.0, 2.0, 2.0, None, None]


def test_intersect_and_union_output_both_outputs() -> None:
    assert outputs(Schedule.recurs(5).intersect(Schedule.exponential(1)), 3) == [
        (0, 1.0),
        (1, 2.0),
        (2, 4.0),
    ]
    assert outputs(Schedule.spaced(1).union(Schedule.fibonacci(1)), 2) == [(0, 1.0), (1, 1.0)]


def test_and_then_runs_the_first_schedule_to_its_end_then_the_second() -> None:
    first = Schedule.spaced(1).intersect(Schedule.recurs(2))
    second = Schedule.exponential(10).intersect(Schedule.recurs(2))
    assert first.and_then(second).delays(6) == [1.0, 1.0, 10.0, 20.0, None, None]


def test_and_then_outputs_come_from_whichever_schedule_decides() -> None:
    assert outputs(Schedule.recurs(2).and_then(Schedule.exponential(5)), 4) == [0, 1, 5.0, 10.0]


def test_and_then_gives_the_same_count_as_both_schedules_together() -> None:
    combined = Schedule.recurs(2).and_then(Schedule.recurs(3))
    assert combined.delays(7).index(None) == 5


def test_up_to_stops_once_the_time_since_the_first_decision_reaches_the_limit() -> None:
    assert delays_at(Schedule.spaced(1).up_to(3), [10.0, 11.0, 12.0, 13.0, 14.0]) == [
        1.0,
        1.0,
        1.0,
        None,
        None,
    ]


def test_up_to_stops_a_repetition_on_the_test_clock() -> None:
    assert run_times(Effect.unit(), Schedule.spaced(1).up_to(2.5)) == [0.0, 1.0, 2.0, 3.0]


def test_while_input_goes_on_only_while_the_input_satisfies_the_predicate() -> None:
    policy = Schedule.recurs(10).while_input(lambda n: isinstance(n, int) and n < 3)
    step = policy.start()
    assert [step(0.0, n).delay for n in (0, 1, 2, 3)] == [0.0, 0.0, 0.0, None]


def test_until_input_stops_as_soon_as_the_input_satisfies_the_predicate() -> None:
    policy = Schedule.forever().until_input(lambda text: text == "stop")
    step = policy.start()
    assert [step(0.0, text).delay for text in ("go", "go", "stop")] == [0.0, 0.0, None]


def test_while_output_goes_on_only_while_the_output_satisfies_the_predicate() -> None:
    assert Schedule.exponential(1).while_output(lambda d: d < 10).delays(6) == [
        1.0,
        2.0,
        4.0,
        8.0,
        None,
        None,
    ]


def test_until_output_stops_as_soon_as_the_output_satisfies_the_predicate() -> None:
    assert Schedule.spaced(1).until_output(lambda n: n == 2).delays(4) == [1.0, 1.0, None, None]


def test_map_transforms_outputs_and_keeps_delays() -> None:
    mapped = Schedule.exponential(1).map(lambda d: f"wait {d:g}s")
    assert mapped.delays(3) == [1.0, 2.0, 4.0]
    assert outputs(mapped, 3) == ["wait 1s", "wait 2s", "wait 4s"]


def test_with_delays_replaces_each_delay() -> None:
    capped = Schedule.exponential(1).with_delays(lambda d: min(d, 3.0))
    assert capped.delays(4) == [1.0, 2.0, 3.0, 3.0]


def test_a_done_schedule_stays_done() -> None:
    step = Schedule.recurs(1).start()
    assert [step(0.0, None).delay for _ in range(4)] == [0.0, None, None, None]


def test_each_start_is_a_fresh_run_of_the_policy() -> None:
    policy = Schedule.recurs(2)
    first, second = policy.start(), policy.start()
    assert [first(0.0, None).delay for _ in range(3)] == [0.0, 0.0, None]
    assert [second(0.0, None).delay for _ in range(3)] == [0.0, 0.0, None]


# -- tapped effects ---------------------------------------------------------------------


def test_tap_input_runs_its_effect_with_each_input_before_the_wait() -> None:
    seen: list[tuple[float, str]] = []
    attempts = iter(["refused", "reset", "ok"])

    def call() -> Effect[str, str]:
        outcome = next(attempts)
        return Effect.succeed(outcome) if outcome == "ok" else Effect.fail(outcome)

    def log(error: str) -> Effect[None]:
        return Clock.now().flat_map(lambda now: Effect.sync(lambda: seen.append((now, error))))

    policy: Schedule[int, str] = Schedule.spaced(5)
    retried = Effect.suspend(call).retry(policy.tap_input(log))
    program = retried.fork().flat_map(lambda f: TestClock.adjust(100).and_then(f.join()))
    assert run_sync_exit(TestClock.provide(program)) == Exit.succeed("ok")
    # Logged at the moment of each failure, before the 5s wait.
    assert seen == [(0.0, "refused"), (5.0, "reset")]


def test_tap_output_runs_its_effect_with_each_output() -> None:
    seen: list[int] = []
    policy = Schedule.recurs(3).tap_output(lambda n: Effect.sync(lambda: seen.append(n)))
    assert run_sync(Effect.unit().repeat(policy)) == 3
    # Every decision taps, the one that stops too.
    assert seen == [0, 1, 2, 3]


def test_taps_of_combined_schedules_both_run() -> None:
    seen: list[str] = []
    left = Schedule.recurs(1).tap_output(lambda _: Effect.sync(lambda: seen.append("left")))
    right = Schedule.recurs(1).tap_output(lambda _: Effect.sync(lambda: seen.append("right")))
    run_sync(Effect.unit().repeat(left.intersect(right)))
    assert seen == ["left", "right", "left", "right"]


def test_a_failing_tap_fails_the_repetition() -> None:
    policy = Schedule.recurs(3).tap_output(lambda n: Effect.fail("tap failed"))
    exit = run_sync_exit(Effect.unit().repeat(policy))
    assert exit.is_failure()


# -- recurrence counts ------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_repeat_with_recurs_n_runs_the_effect_n_plus_one_times(n: int) -> None:
    runs: list[int] = []
    assert run_sync(Effect.sync(lambda: runs.append(1)).repeat(Schedule.recurs(n))) == n
    assert len(runs) == n + 1


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_retry_with_recurs_n_makes_n_plus_one_attempts(n: int) -> None:
    attempts: list[int] = []
    failing: Effect[None, str] = Effect.suspend(
        lambda: Effect.sync(lambda: attempts.append(1)).and_then(Effect.fail("down"))
    )
    assert run_sync_exit(failing.retry(Schedule.recurs(n))).is_failure()
    assert len(attempts) == n + 1


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("times", [-1, 1.5, True, None, "3"])
def test_recurs_refuses_anything_but_a_non_negative_int(times: Any) -> None:
    with pytest.raises((ValueError, TypeError), match="recurs"):
        Schedule.recurs(times)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: Schedule.spaced(s),
        lambda s: Schedule.fixed(s),
        lambda s: Schedule.exponential(s),
        lambda s: Schedule.fibonacci(s),
        lambda s: Schedule.spaced(1).up_to(s),
        lambda s: Schedule.exponential_backoff(s),
        lambda s: Schedule.exponential_backoff(max_delay=s),
    ],
    ids=["spaced", "fixed", "exponential", "fibonacci", "up_to", "backoff_base", "max_delay"],
)
@pytest.mark.parametrize("bad", [-1.0, -math.inf, math.nan])
def test_a_negative_or_nan_duration_is_a_value_error(make: Any, bad: float) -> None:
    with pytest.raises(ValueError):
        make(bad)


@pytest.mark.parametrize(
    "make",
    [lambda: Schedule.spaced("1"), lambda: Schedule.exponential(None)],  # type: ignore[arg-type]
    ids=["spaced", "exponential"],
)
def test_a_duration_that_is_not_a_number_is_a_type_error(make: Any) -> None:
    with pytest.raises(TypeError, match="number"):
        make()


def test_fixed_refuses_a_zero_interval() -> None:
    with pytest.raises(ValueError, match="fixed"):
        Schedule.fixed(0)


@pytest.mark.parametrize("factor", [0.5, 0, -2, math.nan, math.inf])
def test_exponential_refuses_a_factor_below_one_or_not_finite(factor: float) -> None:
    with pytest.raises(ValueError, match="factor"):
        Schedule.exponential(1, factor)


@pytest.mark.parametrize(("low", "high"), [(1.2, 0.8), (-0.1, 1.0)])
def test_jittered_refuses_bounds_out_of_order_or_negative(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="jittered"):
        Schedule.spaced(1).jittered(low, high)


def test_a_with_delays_function_giving_a_negative_delay_is_refused_when_it_is_used() -> None:
    policy = Schedule.spaced(1).with_delays(lambda d: -d)
    with pytest.raises(ValueError):
        policy.delays(1)


def test_a_named_schedule_keeps_its_steps_and_shows_its_name() -> None:
    policy = Schedule.exponential(1.0, factor=2.0).up_to(10)
    named = policy.named("backoff")
    assert (repr(named), named.name) == ("Schedule(backoff)", "backoff")
    assert named.delays(5) == policy.delays(5)
    assert named.jittered(1, 1).name == "backoff.jittered(1, 1)"


def test_a_schedule_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match=r"Schedule\.named expects a str"):
        Schedule.forever().named(3)  # type: ignore[arg-type]
