"""Exit: how an effect ended, `Success(value)` or `Failure(cause)`.

>>> from effectpy import Effect, Failure, Success, run_sync_exit
>>> match run_sync_exit(Effect.succeed(1)):
...     case Success(value):
...         print("got", value)
...     case Failure(cause):
...         print(cause.pretty())
got 1
"""

from ._core.exit import Exit as Exit
from ._core.exit import Failure as Failure
from ._core.exit import Success as Success

__all__ = ["Exit", "Failure", "Success"]
