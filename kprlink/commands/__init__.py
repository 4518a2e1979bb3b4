"""CLI subcommands: one module per subcommand.

Each module defines ``NAME`` (the subcommand), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. ``kprlink.cli`` finds them
all; a module never prints tracebacks for bad input, it raises ``KprlinkError``
and the CLI turns that into a one-paragraph message and exit code 2.
"""
