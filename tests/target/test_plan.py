"""A table plan says, as data, where every column's value comes from."""

from __future__ import annotations

from target_gruponos_oracle import dialects
from target_gruponos_oracle.plan import plan_table, row_columns
from target_gruponos_oracle.values import Source

from .target_testkit import DETAIL_PROPERTIES

SCHEMA = {"type": "object", "properties": DETAIL_PROPERTIES}


def _columns(*, all_metadata: bool) -> dict[str, tuple[str, Source]]:
    plan = plan_table(
        table="WMS_ORDER_DETAILS",
        schema_name=None,
        schema=SCHEMA,
        key_properties=["id"],
        bookmark_properties=["mod_ts"],
        config={},
        database=dialects.SQLITE,
        all_metadata=all_metadata,
    )
    columns = row_columns(plan, SCHEMA, plan.kinds, checked=True)
    return {
        name: (column.field, column.source)
        for name, column in zip(plan.kinds, columns, strict=True)
    }


def test_record_columns_take_the_record_field_of_their_name():
    columns = _columns(all_metadata=False)

    assert columns["MOD_TS"] == ("mod_ts", Source.FIELD)
    assert columns["ORDER_ID_KEY"] == ("order_id_key", Source.FIELD)


def test_metadata_columns_name_their_source():
    columns = _columns(all_metadata=True)

    assert columns["SDC_EXTRACTED_AT"][1] is Source.TIME_EXTRACTED
    assert columns["SDC_RECEIVED_AT"][1] is columns["SDC_BATCHED_AT"][1] is Source.ACCEPTED_AT
    assert columns["SDC_SEQUENCE"][1] is Source.SEQUENCE
    assert columns["SDC_TABLE_VERSION"][1] is Source.TABLE_VERSION
    assert columns["SDC_SYNC_STARTED_AT"][1] is Source.SYNC_STARTED_AT
    assert columns["SDC_DELETED_AT"] == ("_sdc_deleted_at", Source.FIELD)  # sent by the tap


def test_without_add_record_metadata_only_the_version_columns_are_added():
    sources = {source for _, source in _columns(all_metadata=False).values()}

    assert sources == {Source.FIELD, Source.TABLE_VERSION, Source.LOADED_AT}
