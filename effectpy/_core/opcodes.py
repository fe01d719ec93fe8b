"""Integer opcodes of the effect primitives and of the loop's private frames.

Every `Effect` node class carries one of these as the class attribute `_op`; the fiber
loop dispatches on it, testing the commonest first (with `is`: the opcodes must stay
small ints, which CPython keeps one object of; see `FiberRuntime.run`). Frames
(`REVERT_*`, `RESTORE_*`...) only ever live on a fiber's continuation stack and never
reach user code.
"""

from typing import Final

# Nodes that produce a value or a cause.
SUCCEED: Final = 0
FLAT_MAP: Final = 1
MAP: Final = 2
SYNC: Final = 3
FAIL: Final = 4
SUSPEND: Final = 5
FOLD: Final = 6
ASYNC: Final = 7
YIELD: Final = 9
SET_INTERRUPTIBLE: Final = 10
WITH_FIBER: Final = 11
LOCALLY: Final = 12
ON_EXIT: Final = 13
THEN: Final = 14
"""`a.and_then(b)` with an effect `b`: a FLAT_MAP without a function to call."""

# Composite nodes the loop runs itself, all at or above EXTENDED: as compositions of
# the nodes above they took 5 to 20 steps each (see docs/benchmarks.md).
EXTENDED: Final = 15
FORK: Final = 15
JOIN: Final = 16
FOR_EACH: Final = 17
SCOPED: Final = 18
"""The first of the scope and resource nodes (the loop tests these apart from the above)."""
ACQUIRE_RELEASE: Final = 19
ADD_FINALIZER: Final = 20
BRACKET: Final = 21
CLOSE_SCOPE: Final = 22
MAKE_SCOPE: Final = 23
WITH_SCOPE: Final = 24
# Work that runs elsewhere (`_interpreter/supervise.py`: one protocol for all of them).
PROMISE: Final = 25
"""`Effect.promise`/`try_promise`: a coroutine on an asyncio loop."""
BLOCKING: Final = 26
"""`Effect.blocking`: a function in the thread pool."""
GROUP: Final = 27
"""`Effect.all`/`for_each` with concurrency, `race`/`race_all`: child fibers."""
TIMEOUT: Final = 28
"""`effect.timeout(seconds)`: a child fiber and a timer."""
LOG: Final = 29
"""`Effect.log`: a record on the `effectpy` logger."""
DEDUPE: Final = 30
"""`Effect.dedupe`: share one execution among concurrent runs under a key."""
CACHED: Final = 31
"""`Effect.cached`/`cached_with_ttl`: the value is a memoized effect."""

# Frames pushed by the loop itself. A scope is its own SCOPE_EXIT frame; ACQUIRE_RELEASE
# and BRACKET nodes are their own frames too (their codes are above).
REVERT_INTERRUPTIBLE: Final = 40
RESTORE_REF: Final = 41
RESULT: Final = 42
RETHROW: Final = 43
SCOPE_EXIT: Final = 44
FINALIZING: Final = 45
COLLECT: Final = 46
RESTORE_SCOPE: Final = 47

IS_COMPOSITE: Final = tuple(code >= EXTENDED for code in range(64))
"""Indexed by opcode: whether the loop runs it as a composite node. (Frames, which are
never effects, count too: the composite branch reports them as not an Effect.)

The loop splits its dispatch with this rather than with `code >= EXTENDED`: CPython
3.11 only specializes a comparison directly followed by a short jump, and the jump
over the composite branch is long. An unspecialized comparison costs about three
times a specialized one; a tuple lookup costs about as much as a specialized one."""
