"""Synthetic Norway: a calibrated synthetic KPR + NPR delivery at any scale.

``generate_delivery(out, SynthConfig(scale=0.01, seed=1))`` writes every
register extract (KPR-KUHR claims/diagnoses/fees, KPR helse og omsorg
services/functions/indicators, NPR episodes), the NPR↔KPR key file, the SSB
07459 population table and Klass tables into ``out`` in the real delivered
formats, plus ``out/truth/`` (true persons, the reference cohort, linkage
pairs, every injected defect, calibration against published margins and a
``manifest.json``). See :mod:`kprlink.synth.truth` for the exact cohort rule.
"""

from __future__ import annotations

from kprlink.synth.config import SynthConfig
from kprlink.synth.generate import SynthResult, generate_delivery

__all__: list[str] = ["SynthConfig", "SynthResult", "generate_delivery"]
