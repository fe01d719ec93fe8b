"""The Cause algebra: why an effect failed, with nothing lost.

`Fail(error)` is a typed error, `Die(exception)` a defect, `Interrupt(fiber_id, reason)`
an interruption; `Sequential` and `Parallel` combine causes. `pretty()` renders the
tree; `to_exception()` is what `run_sync` raises.

>>> from effectpy import Cause
>>> print(Cause.sequential(Cause.fail("first"), Cause.fail("then")).pretty())
Sequential
├── Fail: 'first'
└── Fail: 'then'
"""

from ._core.cause import Cause as Cause
from ._core.cause import Die as Die
from ._core.cause import Empty as Empty
from ._core.cause import Fail as Fail
from ._core.cause import FiberFailure as FiberFailure
from ._core.cause import Interrupt as Interrupt
from ._core.cause import Parallel as Parallel
from ._core.cause import Sequential as Sequential

__all__ = ["Cause", "Die", "Empty", "Fail", "FiberFailure", "Interrupt", "Parallel", "Sequential"]
