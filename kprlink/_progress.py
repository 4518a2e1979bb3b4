"""Progress for long steps: a widget in Jupyter, a bar in a terminal, plain lines in logs.

``tqdm.auto`` warns ``IProgress not found`` in a notebook without ipywidgets,
and a terminal bar writes carriage returns into log files. :func:`progress`
picks, in order: the notebook widget (a Jupyter kernel and ipywidgets present),
a tqdm bar (stderr is a terminal), else one plain line per tenth of the work.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import Any, TextIO, TypeVar

T = TypeVar("T")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = getattr(shell, "get_ipython", lambda: None)()
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def progress(items: Iterable[T], *, desc: str, unit: str = "it", disable: bool = False,
             total: int | None = None, file: TextIO | None = None) -> Iterable[T]:
    """Iterate `items`, showing progress where it helps.

    >>> list(progress([1, 2, 3], desc="demo", disable=True))
    [1, 2, 3]
    """
    if disable:
        return items
    stream = file if file is not None else sys.stderr
    n = total if total is not None else (len(items) if isinstance(items, Sized) else None)
    if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(items, desc=desc, unit=unit, total=n)  # type: ignore[no-any-return]
    if getattr(stream, "isatty", lambda: False)():
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit=unit, total=n, file=stream)  # type: ignore[no-any-return]
    return _lines(items, desc=desc, unit=unit, total=n, stream=stream)


def _lines(items: Iterable[T], *, desc: str, unit: str, total: int | None,
           stream: Any) -> Iterator[T]:
    """Plain progress lines (no carriage returns): at every tenth, and at the end."""
    t0 = time.monotonic()
    step = max(1, (total or 0) // 10)
    done = 0
    for item in items:
        yield item
        done += 1
        if (total and done < total and done % step == 0) or (not total and done % 100 == 0):
            of = f"/{total:,}" if total else ""
            stream.write(f"{desc}: {done:,}{of} {unit} ({time.monotonic() - t0:.1f} s)\n")
            stream.flush()
    stream.write(f"{desc}: {done:,} {unit} done in {time.monotonic() - t0:.1f} s\n")
    stream.flush()
