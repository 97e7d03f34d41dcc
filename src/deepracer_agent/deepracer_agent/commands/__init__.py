"""The ``deepracer`` verbs of this package: argument parsing and exit codes, nothing else.

Each module has ``main(argv: list[str] | None) -> int``, registered in setup.py (entry-point group
``deepracer.commands``). Keeping the command-line layer here keeps the core modules free of the
imports a command needs (``deepracer train --decoupled`` starts the distributed roles; training
itself never imports them).
"""
