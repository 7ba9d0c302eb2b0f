"""A full sync narrowed to one facility, between full syncs of everything (`meltano run`)."""

from __future__ import annotations

import pytest
from conftest import FULL_STATE_ID, STREAMS, Pipeline

pytestmark = pytest.mark.e2e


def facilities(pipeline: Pipeline) -> dict[str, dict[int, str]]:
    """Per stream, {id: facility code} of every WMS record, through its order."""
    sim = pipeline.sim
    orders = {r["id"]: r["facility_id"]["key"] for r in sim.records("order_hdr")}
    details = {r["id"]: orders[r["order_id"]["id"]] for r in sim.records("order_dtl")}
    allocations = {r["id"]: details[r["order_dtl_id"]["id"]] for r in sim.records("allocation")}
    return {"order_headers": orders, "order_details": details, "allocations": allocations}


def change_and_delete_in(pipeline: Pipeline, facility: dict[str, dict[int, str]], code: str):
    """Edit one order and one detail of facility `code`, delete one order and one detail of
    another order (with what hangs off them); the ids deleted, per stream."""
    sim = pipeline.sim
    order_of = {r["id"]: r["order_id"]["id"] for r in sim.records("order_dtl")}
    orders = sorted(i for i, f in facility["order_headers"].items() if f == code)
    details = sorted(i for i, f in facility["order_details"].items() if f == code)
    sim.modify("order_hdr", ids=[orders[0]], changes={"cust_name": f"CHANGED-{code}"})
    sim.modify("order_dtl", ids=[details[0]], changes={"po_nbr": f"PO-{code}"})
    gone = sim.delete("order_hdr", [orders[-1]])
    detail = next(i for i in reversed(details) if order_of[i] != orders[-1])
    for entity, ids in sim.delete("order_dtl", [detail]).items():
        gone.setdefault(entity, []).extend(ids)
    return {stream: set(gone.get(entity, [])) for stream, (entity, _) in STREAMS.items()}


def test_full_sync_of_one_facility_leaves_the_other_untouched_and_retires_nothing(
    pipeline: Pipeline,
) -> None:
    pipeline.run_job("full-sync")
    facility = facilities(pipeline)
    deleted = {code: change_and_delete_in(pipeline, facility, code) for code in ("FAC1", "FAC2")}
    assert all(deleted[code]["order_headers"] for code in deleted)
    before = {stream: pipeline.table(stream) for stream in STREAMS}

    narrowed = pipeline.meltano(
        "run", "--state-id-suffix", "fac1", "full-sync", TAP_GRUPONOS_WMS_FACILITY_CODE="FAC1"
    )

    assert f"{FULL_STATE_ID}:fac1" in pipeline.meltano("state", "list").stdout.split()
    for stream in STREAMS:
        table, old = pipeline.table(stream), before[stream]
        assert set(table) == set(old), f"{stream}: a narrowed read adds or drops no row"
        assert all(r["SDC_DELETED_AT"] is None for r in table.values()), f"{stream}: retired"
        fac2 = {i for i, f in facility[stream].items() if f == "FAC2"}
        assert {i: table[i] for i in fac2} == {i: old[i] for i in fac2}, f"{stream}: FAC2 moved"
        expected = pipeline.expected(stream)
        fac1_live = {i for i in expected if facility[stream].get(i) == "FAC1"}
        assert fac1_live, stream
        for rid in fac1_live:
            got = {k: table[rid].get(k) for k in expected[rid]}
            assert got == expected[rid], f"{stream} id {rid} is not current"
            # versioned by this run, so the next whole full sync sees them as present
            assert table[rid]["SDC_TABLE_VERSION"] > old[rid]["SDC_TABLE_VERSION"], rid
        said = narrowed.stderr.count(f"{stream}: full-table read narrowed by")
        assert said == 1, f"{stream}: the missing ACTIVATE_VERSION is logged once, not {said}"

    pipeline.run_job("full-sync")

    gone = {s: deleted["FAC1"][s] | deleted["FAC2"][s] for s in STREAMS}
    pipeline.assert_tables_equal_simulator(deleted=gone)
