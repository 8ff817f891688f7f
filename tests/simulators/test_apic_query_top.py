"""The newest-few fast path (order-by a timestamp, small page) answers what a full sort does."""

from __future__ import annotations

from simulators.apic_query import QueryEngine
from simulators.fabric import SimulatedFabric
from simulators.faults import churn


def _newest(eng: QueryEngine, prop: str, size: int, fast: bool) -> list[str]:
    spec = eng.parse(
        "class", "epmMacEp", {"order-by": f"epmMacEp.{prop}|desc", "page-size": str(size)}
    )
    if fast:
        res = eng.run(spec)
    else:
        rows = eng._filtered(spec)  # the general path: every object rendered and sorted
        res = type(eng.run(spec))(len(rows), [eng.render(c, it, spec) for c, it in rows[:size]])
    return [o["epmMacEp"]["attributes"][prop] for o in res.imdata]


def test_newest_created_and_modified_match_a_full_sort() -> None:
    fab = SimulatedFabric.build(leafs=4, endpoints=120, seed=5)
    fab.clock.advance(30)
    churn(fab, 10, 2)  # new local entries (createTs) and bounces
    eng = QueryEngine(fab)
    assert _newest(eng, "createTs", 3, True) == _newest(eng, "createTs", 3, False)
    got = _newest(eng, "modTs", 1, True)
    # "never" (unmodified) orders as the oldest, not lexically above every timestamp.
    assert got and (got[0] == "never" or got[0][:1].isdigit())
    stamps = [x for x in _newest(eng, "modTs", 1000, False) if x != "never"]
    if stamps:
        assert got[0] == max(stamps)
