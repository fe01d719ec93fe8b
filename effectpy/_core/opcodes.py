"""Integer opcodes of the effect primitives and of the loop's private frames.

Every `Effect` node class carries one of these as the class attribute `_op`; the fiber
loop dispatches on it. Frames (`REVERT_*`, `RESTORE_*`) only ever live on a fiber's
continuation stack and never reach user code.
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
FORK: Final = 8
YIELD: Final = 9
SET_INTERRUPTIBLE: Final = 10
WITH_FIBER: Final = 11
LOCALLY: Final = 12
ON_EXIT: Final = 13
THEN: Final = 14
"""`a.and_then(b)` with an effect `b`: a FLAT_MAP without a function to call."""
# Scopes and resources, handled by the loop itself (see docs/benchmarks.md: as
# compositions of the nodes above they took 10 to 20 steps each).
SCOPED: Final = 15
ACQUIRE_RELEASE: Final = 16
BRACKET: Final = 17
CLOSE_SCOPE: Final = 18
ADD_FINALIZER: Final = 19

# Frames pushed by the loop itself.
REVERT_INTERRUPTIBLE: Final = 20
RESTORE_REF: Final = 21
RESULT: Final = 22
RETHROW: Final = 23
# Frames of scopes and resources. A scope is its own SCOPE_EXIT frame; ACQUIRE_RELEASE
# and BRACKET nodes are their own frames too (their codes are above).
SCOPE_EXIT: Final = 30
FINALIZING: Final = 31
