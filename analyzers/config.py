"""Analyzer stage: the move-cause analyzer's knobs (shared by the analyzer and its causes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MoveCauseConfig:
    fabric: str = "fabric1"
    before_s: float = 120.0  # evidence window before the move (APIC learns lag a link drop)
    after_s: float = 30.0  # …and after it (hypervisor samples arrive every 10-30 s)
    reanalyse_window_s: float = 600.0  # each run re-examines moves this old: late data counts
    flap_window_s: float = 300.0
    flap_min_moves: int = 3
    loop_window_s: float = 10.0
    loop_min_endpoints: int = 5
    storm_min_pps: float = 500.0  # flood/broadcast pkts/s that is a storm whatever the baseline
    storm_factor: float = 10.0  # …and this many times the port's own quiet level
    max_moves_per_run: int = 100_000
    incident_gap_s: float = 60.0  # moves of one cause and place this far apart: two incidents
    incident_lookback_s: float = 3600.0  # stored incidents an incident may continue
    stop_check_every: int = 200  # moves between checks of the stop flag (SIGTERM)
