"""Concurrency primitives: state and coordination shared by fibers.

`Ref` (a mutable cell), `Deferred` (a value set once, awaited by many), `Queue`
(bounded, dropping, sliding or unbounded), `Semaphore` (bounded concurrency), `Latch`
and `CountDownLatch` (gates). Each is made by an effect (`Ref.make(0)`,
`Queue[int].bounded(10)`...), so every run of a program gets fresh ones.

Waiting (`take`, `await_`, `with_permits`) parks the fiber without blocking the
thread, is interruptible, and never loses what it waits for: an item or permits handed
to a fiber that is interrupted before it runs are given back.

>>> from effectpy import Effect, run_sync
>>> from effectpy.concurrent import Queue
>>> run_sync(Queue[str].unbounded().flat_map(lambda q: q.offer("hi").and_then(q.take())))
'hi'
"""

from .deferred import Deferred as Deferred
from .latch import CountDownLatch as CountDownLatch
from .latch import Latch as Latch
from .queue import Queue as Queue
from .queue import QueueShutdown as QueueShutdown
from .ref import Ref as Ref
from .semaphore import Semaphore as Semaphore
from .semaphore import WithPermits as WithPermits

__all__ = [
    "CountDownLatch",
    "Deferred",
    "Latch",
    "Queue",
    "QueueShutdown",
    "Ref",
    "Semaphore",
    "WithPermits",
]
