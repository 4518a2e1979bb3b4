"""Shared test configuration: hypothesis profiles and small helpers."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def delivery_002_s11(tmp_path_factory: pytest.TempPathFactory):
    """A scale-0.002, seed-11 synthetic delivery (CSV) and its frames, read once.

    Shared by several modules: tests read it and never write into its folder
    (copy it to change files).
    """
    from kprlink.sources import read_delivery
    from kprlink.synth import SynthConfig, generate_delivery

    out = tmp_path_factory.mktemp("delivery_002_s11")
    generate_delivery(out, SynthConfig(scale=0.002, seed=11))
    return out, read_delivery(out)


@pytest.fixture(scope="module")
def client():  # noqa: ANN201 - a distributed.Client
    """A two-worker dask.distributed cluster on loopback (in this process), per module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None, protocol="tcp",
                                  host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as c:
        yield c
