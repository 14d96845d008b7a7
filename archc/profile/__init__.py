"""Profiling: static costs (params, MACs, FLOPs, activation memory) per node and block, measured
latency and memory on a device, sweeps and budgets. See `archc.profile.costs` for the counting
convention. Everything but `archc.profile.measure` is torch-free."""
from __future__ import annotations

from archc.profile.costs import COSTS, CONVENTION, UNCOUNTED, Cost, cost, uncounted
from archc.profile.static import StaticProfile, analyze

__all__ = ["COSTS", "CONVENTION", "UNCOUNTED", "Cost", "cost", "uncounted", "StaticProfile", "analyze"]
