"""The ``kprlink`` command line.

Subcommands live in :mod:`kprlink.commands`, one module each. Bad input never
produces a traceback: a :class:`~kprlink.exceptions.KprlinkError` becomes a
message naming the file, column, rows and what to do, and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from kprlink import __version__, commands
from kprlink.exceptions import KprlinkError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def _command_modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"kprlink.commands.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            found.append(module)
    return sorted(found, key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kprlink",
        description=(
            "Read, validate, link and characterise KPR and NPR register extracts, "
            "and release disclosure-safe tables."
        ),
    )
    parser.add_argument("--version", action="version", version=f"kprlink {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _os_message(err: OSError) -> str:
    """One paragraph for an operating-system error (what, where, what to do)."""
    import errno

    where = f" {err.filename!r}" if err.filename else ""
    what = err.strerror or type(err).__name__
    if err.errno == errno.ENOSPC:
        todo = ("The disk is full: free space (or choose --out/--work on another disk) and "
                "run again; nothing half-written is used.")
    elif err.errno == errno.EROFS:
        todo = "The folder is read-only: choose a writable --out/--work."
    else:
        todo = "Check the path, its permissions and free space, and try again."
    return f"cannot use{where}: {what}. {todo}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args._run(args) or 0)
    except KprlinkError as err:
        sys.stderr.write(f"kprlink {args.command}: {err}\n")
        return EXIT_BAD_INPUT
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as err:
        sys.stderr.write(
            f"kprlink {args.command}: cannot use {err.filename!r}: {err.strerror}. "
            "Check the path and try again.\n"
        )
        return EXIT_BAD_INPUT
    except OSError as err:  # a full disk, a read-only or vanished folder: no traceback
        sys.stderr.write(f"kprlink {args.command}: {_os_message(err)}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        sys.stderr.write("kprlink: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
