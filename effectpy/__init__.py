"""effectpy: a typed functional effect system for Python.

A program is an immutable value `Effect[A, E, R]`: it succeeds with `A`, fails with a
typed error `E`, and needs services `R`. Build it with the constructors on `Effect`,
compose it with methods or `pipe(...)`, and run it with `run_sync` or `run_async`.
"""

from ._core.foreign import Signal as Signal
from ._core.ids import FiberId as FiberId
from ._core.ids import InterruptReason as InterruptReason
from ._core.ids import Manual as Manual
from ._core.ids import ParentDone as ParentDone
from ._core.ids import RaceLost as RaceLost
from ._core.ids import ScopeClosed as ScopeClosed
from ._core.ids import Shutdown as Shutdown
from ._core.ids import SiblingFailed as SiblingFailed
from ._core.ids import Timeout as Timeout
from .cause import Cause as Cause
from .cause import Die as Die
from .cause import Empty as Empty
from .cause import Fail as Fail
from .cause import FiberFailure as FiberFailure
from .cause import Interrupt as Interrupt
from .cause import Parallel as Parallel
from .cause import Sequential as Sequential
from .clock import Clock as Clock
from .clock import TestClock as TestClock
from .concurrent import CountDownLatch as CountDownLatch
from .concurrent import Deferred as Deferred
from .concurrent import Latch as Latch
from .concurrent import Queue as Queue
from .concurrent import QueueShutdown as QueueShutdown
from .concurrent import Ref as Ref
from .concurrent import Semaphore as Semaphore
from .context import Context as Context
from .context import Layer as Layer
from .context import MissingService as MissingService
from .context import Tag as Tag
from .debug import debug_tree as debug_tree
from .effect import Do as Do
from .effect import Effect as Effect
from .effect import gen as gen
from .exit import Exit as Exit
from .exit import Failure as Failure
from .exit import Success as Success
from .fiber import Fiber as Fiber
from .fiber_ref import FiberRef as FiberRef
from .memo import Singleflight as Singleflight
from .memo import cached_function as cached_function
from .pointfree import pipe as pipe
from .runtime import Runtime as Runtime
from .runtime import live_fiber_count as live_fiber_count
from .runtime import run_async as run_async
from .runtime import run_async_exit as run_async_exit
from .runtime import run_fork as run_fork
from .runtime import run_main as run_main
from .runtime import run_sync as run_sync
from .runtime import run_sync_exit as run_sync_exit
from .schedule import Schedule as Schedule
from .scope import CloseableScope as CloseableScope
from .scope import ExecutionStrategy as ExecutionStrategy
from .scope import Scope as Scope
from .tasks import TaskTree as TaskTree
from .tasks import with_task as with_task

__all__ = [
    "Cause",
    "Clock",
    "CloseableScope",
    "Context",
    "CountDownLatch",
    "Deferred",
    "Die",
    "Do",
    "Effect",
    "Empty",
    "ExecutionStrategy",
    "Exit",
    "Fail",
    "Failure",
    "Fiber",
    "FiberFailure",
    "FiberId",
    "FiberRef",
    "Interrupt",
    "InterruptReason",
    "Latch",
    "Layer",
    "Manual",
    "MissingService",
    "Parallel",
    "ParentDone",
    "Queue",
    "QueueShutdown",
    "RaceLost",
    "Ref",
    "Runtime",
    "Schedule",
    "Scope",
    "ScopeClosed",
    "Semaphore",
    "Sequential",
    "Shutdown",
    "SiblingFailed",
    "Signal",
    "Singleflight",
    "Success",
    "Tag",
    "TaskTree",
    "TestClock",
    "Timeout",
    "cached_function",
    "debug_tree",
    "gen",
    "live_fiber_count",
    "pipe",
    "run_async",
    "run_async_exit",
    "run_fork",
    "run_main",
    "run_sync",
    "run_sync_exit",
    "with_task",
]
