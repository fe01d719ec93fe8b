"""Fiber-aware logging: Effect.log* emit through the standard `logging` module at their
level; annotations and spans are carried by the fiber, inherited by the fibers it
starts and never leak to siblings or parents; they reach handlers on the record
(`annotations`, `spans`, `fiber_id`, one attribute per annotation); a name that clashes
with a LogRecord field stays in `annotations` only; a disabled level emits nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from conftest import Collect

from effectpy import Clock, Do, Effect, FiberId, TestClock, gen, run_sync
from effectpy.structured import branch, spawn
from effectpy.tasks import TaskTree, with_task

LOGGER = "effectpy"


@pytest.fixture
def records(effectpy_logs: Collect) -> list[logging.LogRecord]:
    """The records the `effectpy` logger emits, at every level (see conftest)."""
    return effectpy_logs.records


def annotations_of(record: logging.LogRecord) -> dict[str, object]:
    value: dict[str, object] = record.__dict__["annotations"]
    return value


def spans_of(record: logging.LogRecord) -> dict[str, float]:
    value: dict[str, float] = record.__dict__["spans"]
    return value


def by_message(records: list[logging.LogRecord]) -> dict[str, logging.LogRecord]:
    return {record.getMessage(): record for record in records}


# -- levels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "level"),
    [
        (Effect.log, logging.INFO),
        (Effect.log_debug, logging.DEBUG),
        (Effect.log_info, logging.INFO),
        (Effect.log_warning, logging.WARNING),
        (Effect.log_error, logging.ERROR),
    ],
)
def test_each_log_function_emits_its_message_at_its_level(
    log: Callable[[str], Effect[None]], level: int, records: list[logging.LogRecord]
) -> None:
    assert run_sync(log("disk almost full")) is None
    [record] = records
    assert record.name == LOGGER
    assert record.levelno == level
    assert record.getMessage() == "disk almost full"


def test_a_message_with_percent_signs_is_logged_as_it_is(
    records: list[logging.LogRecord],
) -> None:
    run_sync(Effect.log("100% done, %s left"))
    assert records[0].getMessage() == "100% done, %s left"


def test_a_disabled_level_emits_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run_sync(
            Effect.log_debug("debug")
            .and_then(Effect.log("info"))
            .and_then(Effect.log_info("info"))
            .annotate_logs(request_id="r1")
        )
        assert caplog.records == []
        run_sync(Effect.log_warning("warning"))
    assert [record.getMessage() for record in caplog.records] == ["warning"]


def test_logging_is_lazy_the_effect_logs_each_time_it_runs(
    records: list[logging.LogRecord],
) -> None:
    tick = Effect.log("tick")
    assert records == []
    run_sync(tick.and_then(tick))
    assert [record.getMessage() for record in records] == ["tick", "tick"]


# -- annotations --------------------------------------------------------------------------


def test_annotations_reach_the_record_as_a_dict_and_as_attributes(
    records: list[logging.LogRecord],
) -> None:
    run_sync(Effect.log("signed in").annotate_logs(request_id="r-7", user="ada"))
    [record] = records
    assert annotations_of(record) == {"request_id": "r-7", "user": "ada"}
    assert record.__dict__["request_id"] == "r-7"
    assert record.__dict__["user"] == "ada"


def test_a_formatter_can_use_annotations_by_name(records: list[logging.LogRecord]) -> None:
    run_sync(Effect.log("signed in").annotate_logs(user="ada"))
    formatter = logging.Formatter("%(levelname)s %(message)s user=%(user)s")
    assert formatter.format(records[0]) == "INFO signed in user=ada"


def test_line_annotations_apply_to_that_line_only(records: list[logging.LogRecord]) -> None:
    run_sync(Effect.log("first", attempt=1).and_then(Effect.log("second")))
    first, second = records
    assert annotations_of(first) == {"attempt": 1}
    assert annotations_of(second) == {}
    assert "attempt" not in second.__dict__


def test_inner_annotations_add_to_and_override_outer_ones(
    records: list[logging.LogRecord],
) -> None:
    inner = Effect.log("inner", step="line").annotate_logs(step="inner", user="ada")
    program = inner.and_then(Effect.log("outer")).annotate_logs(step="outer", job="import")
    run_sync(program)
    logged = by_message(records)
    assert annotations_of(logged["inner"]) == {"step": "line", "job": "import", "user": "ada"}
    assert annotations_of(logged["outer"]) == {"step": "outer", "job": "import"}


def test_annotations_end_with_the_annotated_effect(records: list[logging.LogRecord]) -> None:
    run_sync(Effect.log("inside").annotate_logs(request_id="r1").and_then(Effect.log("after")))
    assert annotations_of(by_message(records)["after"]) == {}


def test_annotations_are_inherited_by_forked_children(records: list[logging.LogRecord]) -> None:
    @gen
    def program() -> Do[None]:
        child = yield from Effect.log("from the child").fork()
        yield from child.join()

    run_sync(program().annotate_logs(request_id="r1"))
    assert annotations_of(records[0]) == {"request_id": "r1"}


def test_annotations_reach_every_kind_of_child_fiber(records: list[logging.LogRecord]) -> None:
    @gen
    def program() -> Do[None]:
        yield from Effect.all(Effect.log("all"), Effect.log("all"), concurrency="unbounded")
        yield from Effect.for_each([1, 2], lambda i: Effect.log(f"for_each {i}"), concurrency=2)
        yield from branch(spawn(Effect.log("spawned")).flat_map(lambda fiber: fiber.join()))
        yield from Effect.race(Effect.log("raced"), Effect.never())
        yield from Effect.log("timed").timeout(1).catch_all(lambda _: Effect.unit())
        yield from TaskTree().provide(with_task("task", Effect.log("in a task")))

    run_sync(program().annotate_logs(request_id="r1"))
    assert len(records) == 8
    for record in records:
        assert annotations_of(record) == {"request_id": "r1"}, record.getMessage()


def test_a_childs_annotations_do_not_leak_to_its_parent_or_siblings(
    records: list[logging.LogRecord],
) -> None:
    @gen
    def program() -> Do[None]:
        tagged = Effect.log("tagged").annotate_logs(sibling="a")
        plain = Effect.yield_now().and_then(Effect.log("plain"))
        yield from Effect.all(tagged, plain, concurrency="unbounded")
        child = yield from Effect.unit().annotate_logs(child="c").fork()
        yield from child.join()
        yield from Effect.log("parent")

    run_sync(program().annotate_logs(request_id="r1"))
    logged = by_message(records)
    assert annotations_of(logged["tagged"]) == {"request_id": "r1", "sibling": "a"}
    assert annotations_of(logged["plain"]) == {"request_id": "r1"}
    assert annotations_of(logged["parent"]) == {"request_id": "r1"}


def test_a_child_keeps_the_annotations_it_was_forked_with(
    records: list[logging.LogRecord],
) -> None:
    @gen
    def program() -> Do[None]:
        child = yield from Effect.sleep(0.001).and_then(Effect.log("child")).fork()
        yield from Effect.log("parent").annotate_logs(later="yes")
        yield from child.join()

    run_sync(program().annotate_logs(request_id="r1"))
    logged = by_message(records)
    assert annotations_of(logged["child"]) == {"request_id": "r1"}
    assert annotations_of(logged["parent"]) == {"request_id": "r1", "later": "yes"}


RESERVED = ["message", "name", "msg", "args", "levelname", "asctime", "exc_info", "lineno"]


@pytest.mark.parametrize("key", RESERVED)
def test_an_annotation_named_like_a_record_field_stays_in_annotations_only(
    key: str, records: list[logging.LogRecord]
) -> None:
    run_sync(Effect.log("hello").annotate_logs(**{key: "annotated"}))
    [record] = records
    assert annotations_of(record) == {key: "annotated"}
    assert record.getMessage() == "hello"
    assert record.name == LOGGER
    assert record.levelname == "INFO"
    assert record.__dict__.get(key) != "annotated"
    logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s").format(record)


@pytest.mark.parametrize("key", ["fiber_id", "annotations", "spans"])
def test_an_annotation_named_like_effectpys_own_fields_does_not_replace_them(
    key: str, records: list[logging.LogRecord]
) -> None:
    run_sync(Effect.log("hello").annotate_logs(**{key: "annotated"}))
    [record] = records
    assert annotations_of(record) == {key: "annotated"}
    assert isinstance(record.__dict__["fiber_id"], str)
    assert isinstance(record.__dict__["spans"], dict)


def test_a_line_annotation_named_name_stays_in_annotations(
    records: list[logging.LogRecord],
) -> None:
    run_sync(Effect.log("hello", name="ada"))
    [record] = records
    assert annotations_of(record) == {"name": "ada"}
    assert record.name == LOGGER


def test_a_line_annotation_named_message_stays_in_annotations(
    records: list[logging.LogRecord],
) -> None:
    run_sync(Effect.log("hello", message="annotated"))
    assert annotations_of(records[0]) == {"message": "annotated"}
    assert records[0].getMessage() == "hello"


def test_a_line_annotation_named_level_stays_in_annotations(
    records: list[logging.LogRecord],
) -> None:
    run_sync(Effect.log("hello", level="high"))
    assert annotations_of(records[0]) == {"level": "high"}
    assert records[0].levelno == logging.INFO


def test_annotations_can_be_serialized_by_a_json_formatter(
    records: list[logging.LogRecord],
) -> None:
    run_sync(Effect.log("signed in").annotate_logs(request_id="r1", attempt=2))
    [record] = records
    line = json.dumps({"message": record.getMessage(), **annotations_of(record)})
    assert json.loads(line) == {"message": "signed in", "request_id": "r1", "attempt": 2}


# -- spans --------------------------------------------------------------------------------


def test_a_span_reports_non_negative_milliseconds(records: list[logging.LogRecord]) -> None:
    run_sync(Effect.log("inside").with_log_span("checkout"))
    [record] = records
    assert list(spans_of(record)) == ["checkout"]
    assert spans_of(record)["checkout"] >= 0


def test_spans_nest_outer_first_and_the_outer_one_has_run_longer(
    records: list[logging.LogRecord],
) -> None:
    inner = Effect.log("inside both").with_log_span("inner")
    run_sync(Effect.yield_now().and_then(inner).with_log_span("outer"))
    [record] = records
    assert list(spans_of(record)) == ["outer", "inner"]
    assert spans_of(record)["outer"] >= spans_of(record)["inner"] >= 0


def test_a_span_measures_the_time_since_it_began(records: list[logging.LogRecord]) -> None:
    later = Effect.sleep(0.01).and_then(Effect.log("later"))
    run_sync(Effect.log("early").and_then(later).with_log_span("job"))
    early, late = records
    assert spans_of(late)["job"] >= spans_of(early)["job"] + 5  # slept 10 ms in between


def test_a_span_ends_with_its_effect_and_is_inherited_by_children(
    records: list[logging.LogRecord],
) -> None:
    @gen
    def program() -> Do[None]:
        child = yield from Effect.log("child").fork()
        yield from child.join()

    run_sync(program().with_log_span("request").and_then(Effect.log("after")))
    logged = by_message(records)
    assert list(spans_of(logged["child"])) == ["request"]
    assert spans_of(logged["after"]) == {}


def test_spans_read_the_fibers_clock_so_a_test_clock_gives_exact_durations(
    records: list[logging.LogRecord],
) -> None:
    inner = Effect.sleep(1.5).and_then(Effect.log("after 4s")).with_log_span("step")
    job = Effect.log("at once").and_then(Effect.sleep(2.5)).and_then(inner)

    @gen
    def program() -> Do[None]:
        fiber = yield from job.with_log_span("job").fork()
        yield from TestClock.adjust(4)
        yield from fiber.join()

    run_sync(TestClock.provide(program()))
    logged = by_message(records)
    assert spans_of(logged["at once"]) == {"job": 0.0}
    assert spans_of(logged["after 4s"]) == {"job": 4000.0, "step": 1500.0}


def test_a_span_is_measured_on_the_clock_it_began_on(
    records: list[logging.LogRecord],
) -> None:
    # A span opened on the live clock, logged in under a test clock far from real
    # time (and the other way round): each span keeps reading its own clock.
    under_test = Clock.with_clock(
        TestClock(start=1e9),
        Effect.log("inside").with_log_span("virtual").and_then(Clock.sleep(0)),
    )
    run_sync(under_test.with_log_span("real"))
    [record] = records
    assert list(spans_of(record)) == ["real", "virtual"]
    assert 0 <= spans_of(record)["real"] < 60_000  # real milliseconds, not 1e12
    assert spans_of(record)["virtual"] == 0.0


# -- fiber ids ----------------------------------------------------------------------------


def test_the_record_carries_the_id_of_the_fiber_that_logged(
    records: list[logging.LogRecord],
) -> None:
    @gen
    def program() -> Do[tuple[FiberId, FiberId]]:
        child = yield from Effect.log("child").named("worker").fork()
        yield from child.join()
        yield from Effect.log("parent")
        return (yield from Effect.fiber_id()), child.id

    parent, child = run_sync(program().named("main"))
    logged = by_message(records)
    assert logged["parent"].__dict__["fiber_id"] == str(parent)
    assert logged["child"].__dict__["fiber_id"] == str(child)
    assert logged["child"].__dict__["fiber_id"].endswith("(worker)")
