"""``kprlink link --data DIR --out FILE``: link NPR and KPR through the key file.

Writes the person map (person_id, kpr_id, npr_id, flags) to FILE (the user's
work folder; refused inside a released output folder) and prints the linkage
report's figures with counts below ``--min-cell-count`` hidden and the others
rounded to 5. Key ids that are one person (a temporary NPR id, a new KPR id after
a change of sex) are merged first, as in ``kprlink cohort``. With ``--link
probabilistic`` persons the key misses are linked by the model as well (the map
gains ``link_method``, ``match_probability`` and ``link_ambiguous``).

On a partitioned import (``kprlink import --partitions N``), and on any imported
folder with ``--engine``, the key-file linkage runs partition by partition, in
this process or on a Dask cluster (``kprlink.linkage._link_parts``): the same
person map and report, byte for byte, without the whole delivery's rows in memory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kprlink.commands._engine_args import add_engine_arguments, engine_of

NAME = "link"
HELP = "Link NPR and KPR through the key file; write the person map, print the report."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``kprlink link``."""
    p.add_argument("--data", type=Path, required=True, help="delivery folder")
    p.add_argument("--out", type=Path, required=True, help="person map (.parquet/.csv)")
    p.add_argument("--shared-id-col", default=None,
                   help="link on this pseudonym column of both registers instead of the key")
    p.add_argument("--min-cell-count", type=int, default=5,
                   help="hide terminal counts below this (default 5)")
    p.add_argument("--link", choices=("key", "probabilistic"), default="key",
                   help="key: key file only (default); probabilistic: add model links for "
                        "persons the key misses")
    p.add_argument("--min-probability", type=float, default=None,
                   help="with --link probabilistic: accept model links at or above this match "
                        "probability (default: the threshold chosen on held-out key pairs)")
    add_engine_arguments(p)


#: and the person profiles of the model (beyond the cohort's PROFILE_COLUMNS)
_MODEL_COLUMNS = {"npr_episodes": ("date_out", "municipality", "care_level"),
                  "kuhr_claims": ("municipality", "service_type")}


def run(args: argparse.Namespace) -> int:
    """Link and write; KprlinkError propagates (the CLI exits 2)."""
    from kprlink.commands._personfile import check_person_path
    from kprlink.exceptions import LinkageError, Problem, SpecError
    from kprlink.sources import read_delivery

    if not args.data.is_dir():
        raise FileNotFoundError(2, "No such delivery folder", str(args.data))
    model = args.link == "probabilistic"
    if args.min_probability is not None and not model:
        raise SpecError("--min-probability needs --link probabilistic",
                        [Problem("--min-probability", None, "needs_probabilistic",
                                 "add --link probabilistic, or drop --min-probability")])
    if model and args.shared_id_col is not None:
        raise SpecError("--link probabilistic links persons the key file misses; it cannot "
                        "be combined with --shared-id-col",
                        [Problem("--shared-id-col", None, "needs_key",
                                 "drop --shared-id-col, or --link probabilistic")])
    check_person_path(args.out, data=args.data)
    if _by_partitions(args):
        from kprlink.linkage._link_parts import link_partitions

        with engine_of(args) as engine:
            res = link_partitions(args.data, engine)
        _write(res, args)
        return 0
    # only what the linkage reads (a national delivery does not fit whole in memory)
    d = read_delivery(args.data, columns=None if args.shared_id_col is not None else
                      _columns(model))
    lacking = [n for n in ("npr_episodes", "kuhr_claims") if getattr(d, n) is None]
    if args.shared_id_col is None and d.key is None:
        lacking.append("key")
    if lacking:
        raise LinkageError(f"the delivery in {args.data} lacks {lacking}",
                           [Problem(str(args.data), None, "missing_file", f"no {n} file")
                            for n in lacking])
    _write(_link(d, args), args)
    return 0


def _write(res: object, args: argparse.Namespace) -> None:
    """The person map to ``--out``, the report's figures (masked) to stdout."""
    from kprlink.commands._personfile import masked_table, write_persons

    write_persons(res.persons, args.out)  # type: ignore[attr-defined]
    sys.stdout.write(f"{res!r} -> {args.out}\nmethod: {res.report.method}\n"  # type: ignore[attr-defined]
                     f"{masked_table(res.summary(), ['n'], min_cell_count=args.min_cell_count)}\n")  # type: ignore[attr-defined]


def _by_partitions(args: argparse.Namespace) -> bool:
    """Whether the key-file linkage runs over partitions (a partitioned import, or an
    imported folder with ``--engine``); refuses ``--engine`` where it cannot."""
    from kprlink.exceptions import Problem, SpecError
    from kprlink.sources._manifest import is_imported
    from kprlink.sources._partition import partitions

    imported = is_imported(args.data)
    whole = args.link != "key" or args.shared_id_col is not None
    if args.engine is None:
        if args.scheduler or args.workers or args.memory_limit:
            raise SpecError("--scheduler, --workers and --memory-limit need --engine dask.",
                            ["add --engine dask, or drop those options"])
        return imported and not whole and bool(partitions(args.data))
    if not imported:
        raise SpecError(f"--engine runs on an imported folder; {args.data} is not one "
                        "(kprlink import DELIVERY --out DIR --partitions N)",
                        [Problem("--engine", None, "needs_imported",
                                 "import the delivery, or drop --engine")])
    if whole:
        raise SpecError("--engine runs the key-file linkage (--link key, no "
                        "--shared-id-col); the model and a shared pseudonym read the whole "
                        "delivery", [Problem("--engine", None, "needs_key",
                                             "use --link key, or drop --engine")])
    return True


def _columns(model: bool) -> dict[str, tuple[str, ...] | None]:
    """The projection of the delivery the (key or key + model) linkage reads."""
    from kprlink.linkage._link_parts import KEY_COLUMNS as _KEY_COLUMNS

    cols: dict[str, tuple[str, ...] | None] = {**_KEY_COLUMNS, "key": None}
    if model:
        from kprlink.cohorts._model_links import PROFILE_COLUMNS

        for name in _KEY_COLUMNS:
            cols[name] = tuple(dict.fromkeys((*_KEY_COLUMNS[name], *_MODEL_COLUMNS[name],
                                              *PROFILE_COLUMNS[name])))
    return cols


def _link(d: object, args: argparse.Namespace) -> object:
    """The key-file linkage (same-person ids merged), with model links if asked."""
    from kprlink.linkage import link_extracts

    if args.shared_id_col is not None:
        return link_extracts(d.npr_episodes, d.kuhr_claims,  # type: ignore[attr-defined]
                             key=d.key, shared_id_col=args.shared_id_col)  # type: ignore[attr-defined]
    from kprlink.linkage._aliases import link_merging_aliases

    frames = {n: getattr(d, n) for n in ("npr_episodes", "kuhr_claims", "key")}
    frames, res = link_merging_aliases(frames, lambda f: link_extracts(
        f["npr_episodes"], f["kuhr_claims"], key=f["key"]))
    if args.link != "probabilistic":
        return res
    from kprlink.cohorts._model_links import LinkageOptions, link_with_model

    res, _ = link_with_model(frames, res, LinkageOptions(
        method="probabilistic", min_probability=args.min_probability))
    return res
