"""The private machine: opcodes, the cause algebra, the fiber loop and its schedulers.

Nothing here is public API. Public modules re-export what users need; this package
imports no public module except for types.
"""
