"""The monad laws, checked on generated effects (failing ones included) by comparing Exits.

Two effects are "the same" when `run_sync_exit` gives equal `Exit`s for them. The
generated effects mix successes, typed failures and a defect, so each law is checked on
the error channel and on the defect path as well as on the happy path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from effectpy import Cause, Effect, Exit, run_sync_exit

IntEffect = Effect[int, int]

# One defect instance shared by every generated effect: `Die` compares its exception by
# identity, so equal Exits need the very same object.
BOOM = RuntimeError("generated defect")

LAWS = settings(max_examples=200, deadline=None, database=None)


# -- printable generated values -------------------------------------------------------


@dataclass(frozen=True)
class Fn:
    """A pure function on ints, printed as the expression that made it."""

    text: str
    f: Callable[[int], int]

    def __call__(self, x: int) -> int:
        return self.f(x)

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Eff:
    """An effect, printed as the expression that built it."""

    text: str
    effect: IntEffect

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Kleisli:
    """A function from an int to an effect, printed as the expression that made it."""

    text: str
    f: Callable[[int], IntEffect]

    def __call__(self, x: int) -> IntEffect:
        return self.f(x)

    def __repr__(self) -> str:
        return self.text


def _add(n: int) -> Fn:
    return Fn(f"(x + {n})", lambda x: x + n)


def _mul(n: int) -> Fn:
    return Fn(f"(x * {n})", lambda x: x * n)


def _const(n: int) -> Fn:
    return Fn(f"(_ -> {n})", lambda _: n)


small_ints = st.integers(min_value=-20, max_value=20)
pure_fns: st.SearchStrategy[Fn] = st.one_of(
    small_ints.map(_add), small_ints.map(_mul), small_ints.map(_const)
)


def _to_succeed(f: Fn) -> Kleisli:
    return Kleisli(f"succeed . {f!r}", lambda x: Effect.succeed(f(x)))


def _to_fail(f: Fn) -> Kleisli:
    return Kleisli(f"fail . {f!r}", lambda x: Effect.fail(f(x)))


def _branch(fs: tuple[Fn, Fn]) -> Kleisli:
    on_even, on_odd = fs

    def choose(x: int) -> IntEffect:
        return Effect.succeed(on_even(x)) if x % 2 == 0 else Effect.fail(on_odd(x))

    return Kleisli(f"(even: succeed . {on_even!r}, odd: fail . {on_odd!r})", choose)


def _always(eff: Eff) -> Kleisli:
    return Kleisli(f"(_ -> {eff!r})", lambda _: eff.effect)


DIE_K = Kleisli("(_ -> die(BOOM))", lambda _: Effect.die(BOOM))


def kleislis(effects: st.SearchStrategy[Eff]) -> st.SearchStrategy[Kleisli]:
    return st.one_of(
        pure_fns.map(_to_succeed),
        pure_fns.map(_to_fail),
        st.tuples(pure_fns, pure_fns).map(_branch),
        effects.map(_always),
        st.just(DIE_K),
    )


def _succeed(n: int) -> Eff:
    return Eff(f"succeed({n})", Effect.succeed(n))


def _fail(n: int) -> Eff:
    return Eff(f"fail({n})", Effect.fail(n))


def _sync(n: int) -> Eff:
    return Eff(f"sync(-> {n})", Effect.sync(lambda: n))


DIE = Eff("die(BOOM)", Effect.die(BOOM))

leaf_effects: st.SearchStrategy[Eff] = st.one_of(
    small_ints.map(_succeed), small_ints.map(_fail), small_ints.map(_sync), st.just(DIE)
)


def _map(args: tuple[Eff, Fn]) -> Eff:
    m, f = args
    return Eff(f"{m!r}.map({f!r})", m.effect.map(f))


def _flat_map(args: tuple[Eff, Kleisli]) -> Eff:
    m, k = args
    return Eff(f"{m!r}.flat_map({k!r})", m.effect.flat_map(k))


def _catch_all(args: tuple[Eff, Kleisli]) -> Eff:
    m, h = args
    return Eff(f"{m!r}.catch_all({h!r})", m.effect.catch_all(h))


def _map_error(args: tuple[Eff, Fn]) -> Eff:
    m, f = args
    return Eff(f"{m!r}.map_error({f!r})", m.effect.map_error(f))


def _suspended(m: Eff) -> Eff:
    return Eff(f"suspend(-> {m!r})", Effect.suspend(lambda: m.effect))


def _extend(children: st.SearchStrategy[Eff]) -> st.SearchStrategy[Eff]:
    return st.one_of(
        st.tuples(children, pure_fns).map(_map),
        st.tuples(children, kleislis(children)).map(_flat_map),
        st.tuples(children, kleislis(children)).map(_catch_all),
        st.tuples(children, pure_fns).map(_map_error),
        children.map(_suspended),
    )


effects: st.SearchStrategy[Eff] = st.recursive(leaf_effects, _extend, max_leaves=8)
kleisli_fns: st.SearchStrategy[Kleisli] = kleislis(effects)


def outcome(effect: IntEffect) -> Exit[int, int]:
    return run_sync_exit(effect)


# -- the generators reach every outcome ---------------------------------------------


def test_generated_effects_cover_success_failure_and_defect() -> None:
    seen: set[str] = set()

    @LAWS
    @given(effects)
    def record(m: Eff) -> None:
        seen.add(_kind(outcome(m.effect)))

    record()
    assert seen == {"success", "fail", "die"}


def _kind(exit: Exit[int, int]) -> str:
    def on_failure(cause: Cause[int]) -> str:
        return "die" if cause.defects() else "fail" if cause.failures() else "other"

    return exit.match(on_success=lambda _: "success", on_failure=on_failure)


# -- sequencing laws ---------------------------------------------------------------


@LAWS
@given(a=small_ints, k=kleisli_fns)
def test_left_identity_succeed_then_flat_map_is_the_function(a: int, k: Kleisli) -> None:
    assert outcome(Effect.succeed(a).flat_map(k)) == outcome(k(a))


@LAWS
@given(m=effects)
def test_right_identity_flat_map_succeed_changes_nothing(m: Eff) -> None:
    assert outcome(m.effect.flat_map(Effect.succeed)) == outcome(m.effect)


@LAWS
@given(m=effects, f=kleisli_fns, g=kleisli_fns)
def test_flat_map_is_associative(m: Eff, f: Kleisli, g: Kleisli) -> None:
    left = m.effect.flat_map(f).flat_map(g)
    right = m.effect.flat_map(lambda x: f(x).flat_map(g))
    assert outcome(left) == outcome(right)


@LAWS
@given(m=effects)
def test_map_identity_changes_nothing(m: Eff) -> None:
    assert outcome(m.effect.map(lambda x: x)) == outcome(m.effect)


@LAWS
@given(m=effects, f=pure_fns, g=pure_fns)
def test_map_fusion_two_maps_are_one_map_of_the_composition(m: Eff, f: Fn, g: Fn) -> None:
    assert outcome(m.effect.map(f).map(g)) == outcome(m.effect.map(lambda x: g(f(x))))


@LAWS
@given(m=effects, f=pure_fns)
def test_map_is_flat_map_then_succeed(m: Eff, f: Fn) -> None:
    assert outcome(m.effect.map(f)) == outcome(m.effect.flat_map(lambda x: Effect.succeed(f(x))))


# -- error-channel laws ------------------------------------------------------------


@LAWS
@given(e=small_ints, h=kleisli_fns)
def test_fail_then_catch_all_is_the_handler(e: int, h: Kleisli) -> None:
    failing: IntEffect = Effect.fail(e)
    assert outcome(failing.catch_all(h)) == outcome(h(e))


@LAWS
@given(a=small_ints, h=kleisli_fns)
def test_catch_all_leaves_a_success_alone(a: int, h: Kleisli) -> None:
    succeeding: IntEffect = Effect.succeed(a)
    assert outcome(succeeding.catch_all(h)) == Exit.succeed(a)


@LAWS
@given(m=effects)
def test_catch_all_fail_changes_nothing(m: Eff) -> None:
    assert outcome(m.effect.catch_all(Effect.fail)) == outcome(m.effect)


@LAWS
@given(m=effects, f=kleisli_fns, g=kleisli_fns)
def test_catch_all_is_associative(m: Eff, f: Kleisli, g: Kleisli) -> None:
    left = m.effect.catch_all(f).catch_all(g)
    right = m.effect.catch_all(lambda e: f(e).catch_all(g))
    assert outcome(left) == outcome(right)


@LAWS
@given(m=effects, f=pure_fns, g=pure_fns)
def test_map_error_fusion(m: Eff, f: Fn, g: Fn) -> None:
    fused = m.effect.map_error(lambda e: g(f(e)))
    assert outcome(m.effect.map_error(f).map_error(g)) == outcome(fused)


@LAWS
@given(m=effects, f=pure_fns)
def test_map_error_is_catch_all_then_fail(m: Eff, f: Fn) -> None:
    via_catch = m.effect.catch_all(lambda e: Effect.fail(f(e)))
    assert outcome(m.effect.map_error(f)) == outcome(via_catch)
