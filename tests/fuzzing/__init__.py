"""effectpy's concurrency fuzzer (docs/testing.md).

Random program trees (`tree`) are built into effects (`build`), run under several
runners (`harness`), checked against invariants that hold for every program, and, for
programs that only wait on a `TestClock`, against a reference model (`model`): an
interpreter over virtual time that predicts the `Exit`, the virtual end time and the
exact set of finalizers that run.

`python -m tests.fuzzing --programs 50000` (or `make fuzz`) runs a campaign; the fast
slice runs in the test suite (tests/test_fuzz.py). Every failure prints the seed that
reproduces it: `python -m tests.fuzzing --replay SEED --family FAMILY`.
"""
