"""Where partition-wise work runs: in this process, or on a Dask cluster.

kprlink's out-of-core steps are written once, as functions of one partition
(a folder of :mod:`kprlink.sources._partition`) that return pandas or numpy
objects, plus small reductions on the caller's side. An engine only decides
where those functions run:

* :class:`InProcess` (the default, no dependency): one partition after
  another in this process, so memory holds one partition's rows at a time;
* :class:`DaskEngine`: the same functions as ``dask.distributed`` tasks, on an
  existing cluster (``scheduler="tcp://host:8786"``, for example one started
  with dask-jobqueue's ``SLURMCluster``; see ``docs/scale.md``), on a
  :class:`distributed.Client` the caller made, or on a local cluster of
  ``workers`` processes with ``memory_limit`` each.

``map`` returns handles (results in this process; futures on the cluster, so
partition results stay on the workers), ``gather`` brings results here. Only
cohort-sized results should be gathered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kprlink.exceptions import SpecError

__all__ = ["DaskEngine", "InProcess", "engine_from"]


class InProcess:
    """Run partition functions in this process, `threads` partitions at a time.

    Parameters
    ----------
    threads : int, default 1
        Partitions processed at once, on threads of this process (Arrow's reads
        and NumPy's sorts release the GIL); memory holds that many partitions'
        rows. Results come back in the order of the items, so every count of
        threads gives the same results.
    """

    name = "in-process"

    def __init__(self, threads: int = 1) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise SpecError(f"InProcess(threads={threads!r}): give an int >= 1.",
                            [f"threads={threads!r}"])
        self.threads = threads

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> list[Any]:
        """``[fn(item, *args) for item in items]`` (handles are the results)."""
        if self.threads == 1 or len(items) < 2:
            return [fn(item, *args) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(self.threads, len(items))) as pool:
            return list(pool.map(lambda item: fn(item, *args), items))

    def gather(self, handles: Sequence[Any]) -> list[Any]:
        """The results themselves."""
        return list(handles)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"<InProcess engine: {self.threads} thread(s)>"


class DaskEngine:
    """Run partition functions as tasks of a ``dask.distributed`` client.

    Parameters
    ----------
    client : distributed.Client
        The client; results of :meth:`map` stay on its workers as futures.
    owned : object, optional
        A cluster this engine started (closed by :meth:`close`).
    """

    name = "dask"

    def __init__(self, client: Any, owned: Any = None) -> None:
        self.client = client
        self._owned = owned

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> list[Any]:
        """One task per item (items may be futures of an earlier map)."""
        n = len(items)
        futures = [self.client.scatter(a, broadcast=True) if _large(a) else a for a in args]
        items = [self.client.scatter([x], hash=False)[0] if _large(x) else x for x in items]
        return list(self.client.map(fn, list(items), *[[a] * n for a in futures],
                                    pure=False))

    def gather(self, handles: Sequence[Any]) -> list[Any]:
        """Results of the tasks, brought to this process."""
        return list(self.client.gather(list(handles)))

    def close(self) -> None:
        """Close the client and any cluster this engine started."""
        if self._owned is not None:
            self.client.close()
            self._owned.close()

    def __repr__(self) -> str:
        workers = len(self.client.scheduler_info().get("workers", {}))
        return f"<DaskEngine {self.client.scheduler.address}: {workers} workers>"


def _nbytes(obj: Any) -> int:
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(x) for x in obj)
    if isinstance(obj, dict):
        return sum(_nbytes(x) for x in obj.values())
    nbytes = getattr(obj, "nbytes", 0)
    return nbytes if isinstance(nbytes, int) else 0


def _large(obj: Any) -> bool:
    """Worth sending ahead of the tasks (numpy arrays, alone or in tuples and dicts)."""
    return _nbytes(obj) > 1 << 20


def _is_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and hasattr(obj, "scheduler_info")


@contextlib.contextmanager
def engine_from(engine: Any = None, *, scheduler: str | None = None,
                workers: int | None = None, memory_limit: str | None = None,
                processes: bool = True) -> Iterator[InProcess | DaskEngine]:
    """The engine named by `engine`, closed (if started here) when the block ends.

    Parameters
    ----------
    engine : None, "in-process", "dask", distributed.Client, InProcess or DaskEngine
        None and ``"in-process"``: :class:`InProcess`. ``"dask"``: a client of
        `scheduler`, or of a local cluster of `workers` (default 2) worker
        processes with `memory_limit` each (default ``"auto"``). A client or
        an engine is used as given (never closed here).
    scheduler, workers, memory_limit, processes
        For ``engine="dask"`` only.

    Raises
    ------
    SpecError
        An unknown engine, or ``"dask"`` without dask.distributed installed
        (``pip install "kprlink[dask]"``).

    Examples
    --------
    >>> with engine_from(None) as eng:
    ...     eng.gather(eng.map(pow, [2, 3], 2))
    [4, 9]
    """
    if isinstance(engine, (InProcess, DaskEngine)):
        yield engine
        return
    if engine is None or engine == "in-process":
        if scheduler is not None or workers is not None:
            raise SpecError("scheduler/workers need engine='dask'.",
                            ["pass engine='dask' (CLI: --engine dask)"])
        yield InProcess()
        return
    if _is_client(engine):
        yield DaskEngine(engine)
        return
    if engine != "dask":
        raise SpecError(f"engine={engine!r}: use None, 'in-process', 'dask' or a "
                        "distributed.Client.", [f"engine={engine!r}"])
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SpecError("engine='dask' needs dask.distributed: pip install "
                        "\"kprlink[dask]\".", ["engine='dask'"]) from None
    if scheduler is not None:
        client = Client(scheduler)
        eng = DaskEngine(client, owned=_Detach(client))
    else:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                               memory_limit=memory_limit or "auto", processes=processes,
                               dashboard_address=None, host="127.0.0.1")
        eng = DaskEngine(Client(cluster), owned=cluster)
    try:
        yield eng
    finally:
        eng.close()


class _Detach:
    """Closing an existing cluster's client leaves the cluster running."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def close(self) -> None:
        """Nothing: the client was closed already."""
