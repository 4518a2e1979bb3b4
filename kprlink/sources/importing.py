"""``import_delivery``: read a delivery once, write its canonical frames to Parquet.

The top of :mod:`kprlink.sources` (``readers -> validation -> delivery ->
import``): it uses :func:`~kprlink.sources.delivery.read_delivery` (a small
delivery, read whole) or :mod:`~kprlink.sources._import_stream` (file by file,
large files in chunks), and nothing below imports it.
"""

from __future__ import annotations

from pathlib import Path

from kprlink._atomic import atomic_folder
from kprlink.exceptions import SpecError
from kprlink.sources._import_stream import CHUNK_ROWS, import_streaming, streamable
from kprlink.sources._manifest import MANIFEST, write_manifest
from kprlink.sources._partition import write_partitions
from kprlink.sources.delivery import Delivery, read_delivery
from kprlink.sources.extract import ExtractionDate

__all__ = ["import_delivery"]


def import_delivery(path: str | Path, out: str | Path, *,
                    chunk_rows: int | None = None, force: bool = False,
                    extraction_date: ExtractionDate = None,
                    partitions: int | None = None) -> Delivery:
    """Read a delivery once and write its canonical frames to Parquet in `out`.

    Writes ``<field>.parquet`` per frame and, last, ``kprlink_import.json``
    (files, report, and the size and SHA-256 of every frame file) into a
    temporary sibling of `out`, then renames it into place: an interrupted
    import leaves `out` as it was (temporary folders of dead processes are
    removed by the next import). :func:`read_delivery` on `out` gives the same
    frames, fast, and refuses the folder if its files no longer match the
    manifest.

    Parameters
    ----------
    path : str or Path
        Delivery folder or file.
    out : str or Path
        Output folder; must not exist unless `force`, and must not overlap
        `path` (equal, inside or containing it).
    chunk_rows : int, optional
        A delivery with a Parquet file of more rows than this (default
        4,000,000) is imported file by file, large files in chunks of this many
        rows, so memory stays bounded (national deliveries); the frames are
        the same.
    force : bool, default False
        Replace an existing `out` that is an earlier import (holds
        ``kprlink_import.json``) or is empty; any other folder is refused.
    extraction_date : date or str, optional
        The day the delivery was extracted (see :func:`read_delivery`).
    partitions : int, optional
        Also split the persons into this many partitions under
        ``out/partitions/`` (by a hash of the person id, every row of a person
        in one partition; see :mod:`kprlink.sources._partition`), for the
        partition-wise engines (``engine=`` of :func:`kprlink.build_cohort`).

    Returns
    -------
    Delivery
        The delivery as read from `path`; when imported in chunks, its files
        and report only (read the frames with ``read_delivery(out, ...)``).

    Raises
    ------
    OutputFolderError
        `out` exists (without `force`, or is not an import), or overlaps `path`.
    """
    root, dest = Path(path), Path(out)
    if not root.exists():
        raise FileNotFoundError(2, "No such file or directory", str(root))
    chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
    if partitions is not None and (isinstance(partitions, bool) or not isinstance(
            partitions, int) or not 1 <= partitions <= 4096):
        raise SpecError(f"import_delivery(partitions={partitions!r}): give an int in "
                        "1..4096.", [f"partitions={partitions!r}"])
    with atomic_folder(dest, force=force, inputs={"data": root}, marker=MANIFEST,
                       what="import") as tmp:
        if streamable(root, chunk_rows):
            delivery = import_streaming(root, tmp, chunk_rows, extraction_date=extraction_date)
        else:
            delivery = read_delivery(path, extraction_date=extraction_date)
            written = {}
            for field_, frame in delivery.frames().items():
                frame.to_parquet(tmp / f"{field_}.parquet", index=False)
                written[field_] = f"{field_}.parquet"
            write_manifest(tmp, delivery.path, written, delivery.files, delivery.report)
        if partitions is not None:
            write_partitions(tmp, partitions)
    return delivery  # type: ignore[no-any-return]
