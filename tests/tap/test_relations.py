"""Relation targets from records' urls or from field names, and the shortest chain."""

from __future__ import annotations

from tap_gruponos_wms.relations import RelationGraph, narrowing_filter, target_of

LISTED = frozenset({"facility", "company", "item", "order_hdr", "order_dtl", "po_hdr", "po_dtl"})
REL = {"type": "relation"}


def graph(describes: dict, samples: dict) -> RelationGraph:
    return RelationGraph(LISTED, lambda e: {"fields": describes[e]}, lambda e: samples.get(e))


def test_the_url_names_the_target_even_when_the_field_name_does_not() -> None:
    value = {"id": 3, "key": "ORD3", "url": "https://wms/x/wms/lgfapi/v10/entity/order_hdr/3"}
    assert target_of("order_id", value, LISTED) == "order_hdr"
    assert target_of("order_id", None, LISTED) is None  # no record: the name decides, and fails


def test_without_a_url_the_name_decides_and_a_blank_url_means_not_exposed() -> None:
    assert target_of("facility_id", None, LISTED) == "facility"
    assert target_of("item_id", {"id": 1, "key": "I1"}, LISTED) == "item"
    assert target_of("facility_id", {"id": 1, "key": "F", "url": ""}, LISTED) is None
    assert target_of("uom_id", None, LISTED) is None


def test_shortest_chain_prefers_the_header_and_the_exact_field_name() -> None:
    g = graph(
        {
            "po_dtl": {"id": {"type": "pk"}, "item_id": REL, "hdr_id": REL, "status_id": REL},
            "po_hdr": {"dest_facility_id": REL, "facility_id": REL, "company_id": REL},
            "item": {"company_id": REL},
            "company": {},
            "facility": {},
        },
        {"po_dtl": {"hdr_id": {"id": 1, "key": "P", "url": "http://h/entity/po_hdr/1"}}},
    )
    assert g.chain("po_dtl", "facility") == ("hdr_id", "facility_id")
    assert g.chain("po_dtl", "company") == ("hdr_id", "company_id")  # not item_id__company_id
    assert g.chain("po_hdr", "facility") == ("facility_id",)
    assert g.chain("facility", "facility") == ()
    assert g.chain("item", "facility") is None
    assert narrowing_filter(("hdr_id", "facility_id")) == "hdr_id__facility_id__code"
    assert narrowing_filter(()) == "code"
