"""kprlink: reproducible, disclosure-safe studies on linked KPR and NPR extracts.

Use it as ``import kprlink as kl``. Everything public is listed in
``kprlink.__all__``; names starting with ``_`` may change in any release.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kprlink")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

# Submodules load on first use (module-level ``__getattr__``, PEP 562), so
# ``import kprlink`` and ``kprlink --help`` do not pay for pandas, scipy,
# statsmodels and matplotlib. ``kl.<name>`` imports every submodule once, in
# this order (later ones win, as the star imports did), then answers.
_SUBMODULES = ("cohorts", "codes", "demography", "disclosure", "exceptions", "linkage",
               "plots", "sources", "stats", "study", "synth", "tables")


def _load_all() -> dict[str, object]:
    import importlib

    exported: dict[str, object] = {}
    for name in _SUBMODULES:
        module = importlib.import_module(f"kprlink.{name}")
        exported.update({n: getattr(module, n) for n in module.__all__})
    globals().update(exported)
    globals()["__all__"] = sorted({"__version__"} | set(exported))
    return exported


def __getattr__(name: str) -> object:
    import importlib
    import importlib.util

    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    # a submodule (``from kprlink import commands``) loads alone
    if name in _SUBMODULES or (not name.startswith("_")
                               and importlib.util.find_spec(f"kprlink.{name}") is not None):
        return importlib.import_module(f"kprlink.{name}")
    exported = _load_all()
    if name == "__all__":
        return globals()["__all__"]
    if name not in exported:
        raise AttributeError(f"module 'kprlink' has no attribute {name!r}")
    return exported[name]


def __dir__() -> list[str]:
    _load_all()
    return sorted(set(globals()) | set(_SUBMODULES))
