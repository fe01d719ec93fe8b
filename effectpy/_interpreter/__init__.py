"""The interpreter: runs the nodes that `effectpy.effect` builds.

`loop.py` is the one loop (core ops inline, a handler table for the rest); each
composite op's behaviour lives in one module beside it, and work that runs elsewhere
(threads, coroutines, child fibers) follows the one protocol of `supervise.py`.
This layer imports `_core` and the language (`effect.py`, `fiber.py`), never the
public feature modules above it.
"""

# The modules that register handlers for the loop's composite nodes (`loop.handles`):
# importing the package installs them all.
from . import branch as branch
from . import foreign as foreign
from . import groups as groups
from . import logs as logs
from . import resources as resources
from . import sharing as sharing
