"""``import kprlink`` and ``kprlink --help`` stay light: heavy libraries load on use."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scipy", "matplotlib", "statsmodels", "pandas", "pyarrow")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_kprlink_and_cli_load_no_heavy_library():
    assert _loaded_after("import kprlink") == []
    assert _loaded_after("import kprlink.cli") == []
    assert _loaded_after("import kprlink.cli\nkprlink.cli.build_parser()") == []


def test_help_runs_without_heavy_libraries():
    code = ("import contextlib, io\nimport kprlink.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        kprlink.cli.main(['--help'])\n"
            "    except SystemExit:\n        pass")
    assert _loaded_after(code) == []


def test_public_names_resolve_lazily():
    import kprlink as kl
    from kprlink import cohorts, disclosure, sources

    names = set(kl.__all__)
    assert {"__version__", "build_cohort", "CodeList", "suppress_table"} <= names
    assert set(cohorts.__all__) | set(disclosure.__all__) | set(sources.__all__) <= names
    for name in sorted(names):
        assert getattr(kl, name) is not None
    assert kl.build_cohort is cohorts.build_cohort
    assert "build_cohort" in dir(kl)
    ns: dict[str, object] = {}
    exec("from kprlink import *", ns)
    assert ns["build_cohort"] is cohorts.build_cohort


def test_unknown_name_is_an_attribute_error():
    import kprlink as kl

    try:
        kl.no_such_thing  # noqa: B018
    except AttributeError as err:
        assert "no_such_thing" in str(err)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
