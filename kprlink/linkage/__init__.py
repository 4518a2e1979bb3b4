"""kprlink.linkage (see DESIGN.md: architecture)."""

from __future__ import annotations

__all__: list[str] = []
