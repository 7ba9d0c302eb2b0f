"""Every statement the target issues, compiled with SQLAlchemy's Oracle dialect.

The same functions build the SQLite statements the other tests run, so these texts come from
live code paths: the table plan, the evolution DDL, the batch MERGE and the version deletes.
"""

from __future__ import annotations

import re
from decimal import Decimal

import oracledb
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from target_gruponos_oracle import audit, dialects, statements
from target_gruponos_oracle.connector import RESERVED, evolution_ddl, unique_key_ddl
from target_gruponos_oracle.errors import FieldError
from target_gruponos_oracle.kinds import Kind, kind_from_declared
from target_gruponos_oracle.plan import DELETED_COLUMN, VERSION_COLUMN, plan_table, row_columns
from target_gruponos_oracle.values import compile_row_builder

from .target_testkit import DETAIL_PROPERTIES

ORACLE = oracle.dialect()
PROPERTIES = {
    **DETAIL_PROPERTIES,
    "notes": {"type": ["string", "null"], "maxLength": 10000},
    "attrs": {"type": ["object", "null"]},
    "level": {"type": ["integer", "null"]},
}


def _plan(load_method: str = "upsert", **config):
    return _plan_for(PROPERTIES, load_method, **config)


def _plan_for(properties: dict, load_method: str = "upsert", **config):
    return plan_table(
        table="WMS_ORDER_DETAILS",
        schema_name=None,
        schema={"type": "object", "properties": properties},
        key_properties=["id"],
        bookmark_properties=["mod_ts"],
        config={"load_method": load_method, **config},
        database=dialects.ORACLE,
        all_metadata=True,
    )


def _sql(statement) -> str:
    return " ".join(statements.compile_sql(statement, ORACLE)[0].split())


def test_create_table_uses_types_that_keep_the_data():
    ddl = " ".join(str(sa.schema.CreateTable(_plan().table).compile(dialect=ORACLE)).split())

    for column in [
        '"ID" NUMBER(19) NOT NULL',
        '"ORDER_ID_KEY" VARCHAR2(30 CHAR)',
        '"ORD_QTY" NUMBER,',
        '"CUST_DATE_1" DATE',
        '"IS_BACK_ORDER" NUMBER(1)',
        '"MOD_TS" TIMESTAMP(6) WITH TIME ZONE',
        '"NOTES" CLOB',  # maxLength past max_varchar_length
        '"ATTRS" CLOB',
        '"LEVEL_" NUMBER(19)',  # reserved word renamed
        '"SDC_EXTRACTED_AT" TIMESTAMP(6) WITH TIME ZONE',
        '"SDC_TABLE_VERSION" NUMBER(19)',
        'PRIMARY KEY ("ID")',
    ]:
        assert column in ddl


def test_nullable_anyof_properties_compile_to_the_same_oracle_table_and_merge():
    def any_of(prop: dict) -> dict:
        types = [prop["type"]] if isinstance(prop["type"], str) else prop["type"]
        plain = {**prop, "type": next(t for t in types if t != "null")}
        return {"anyOf": [plain, {"type": "null"}]}

    listed = _plan_for(PROPERTIES)
    written_with_any_of = _plan_for({name: any_of(p) for name, p in PROPERTIES.items()})

    def ddl(plan) -> str:
        return str(sa.schema.CreateTable(plan.table).compile(dialect=ORACLE))

    assert ddl(written_with_any_of) == ddl(listed)
    assert '"MOD_TS" TIMESTAMP(6) WITH TIME ZONE' in ddl(written_with_any_of)
    # the guard compares the TIMESTAMP column, as for the type-list form
    assert _sql(written_with_any_of.statement) == _sql(listed.statement)
    merge = _sql(written_with_any_of.statement)
    assert "TO_TIMESTAMP_TZ(:MOD_TS" in merge
    assert 'tgt."MOD_TS" <= src."MOD_TS"' in merge


def test_extended_max_string_size_keeps_long_strings_in_varchar2():
    ddl = str(sa.schema.CreateTable(_plan(max_varchar_length=32767).table).compile(dialect=ORACLE))

    assert '"NOTES" VARCHAR2(10000 CHAR)' in ddl


def test_upsert_is_one_merge_from_dual_guarded_by_mod_ts():
    sql = _sql(_plan().statement)

    assert sql.startswith('MERGE INTO "WMS_ORDER_DETAILS" tgt USING (SELECT :ID AS "ID", ')
    assert 'FROM DUAL) src ON (tgt."ID" = src."ID")' in sql
    assert 'TO_TIMESTAMP_TZ(:MOD_TS, \'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM\') AS "MOD_TS"' in sql
    assert "TO_DATE(:CUST_DATE_1, 'YYYY-MM-DD') AS \"CUST_DATE_1\"" in sql
    update = re.search(r"WHEN MATCHED THEN UPDATE SET (.*) WHERE (.*) WHEN NOT MATCHED", sql)
    assert update, sql
    assignments = dict(a.split(" = ", 1) for a in update.group(1).split(", tgt."))
    assert 'tgt."ID"' not in update.group(1)  # ORA-38104: keys are not updated
    assert assignments['"STATUS_ID"'] == 'src."STATUS_ID"'
    # the table version records presence: it never goes back (an incremental row has none)
    assert assignments['"SDC_TABLE_VERSION"'] == (
        'CASE WHEN (src."SDC_TABLE_VERSION" IS NOT NULL AND (tgt."SDC_TABLE_VERSION" IS NULL '
        'OR tgt."SDC_TABLE_VERSION" < src."SDC_TABLE_VERSION")) THEN src."SDC_TABLE_VERSION" '
        'ELSE tgt."SDC_TABLE_VERSION" END'
    )
    assert update.group(2) == (
        'tgt."MOD_TS" IS NULL OR src."MOD_TS" IS NULL OR tgt."MOD_TS" <= src."MOD_TS"'
    )
    columns = list(_plan().kinds)
    assert sql.endswith(
        "WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})".format(
            ", ".join(f'"{c}"' for c in columns), ", ".join(f'src."{c}"' for c in columns)
        )
    )


def test_full_sync_copies_the_guard_skips_still_get_the_new_version():
    restamp = _plan().restamp
    assert restamp is not None

    assert _sql(restamp) == (
        'UPDATE "WMS_ORDER_DETAILS" SET "SDC_TABLE_VERSION"=:version '
        'WHERE "WMS_ORDER_DETAILS"."ID" = :key_ID AND '
        '("WMS_ORDER_DETAILS"."SDC_TABLE_VERSION" IS NULL OR '
        '"WMS_ORDER_DETAILS"."SDC_TABLE_VERSION" < :version)'
    )


def test_append_only_inserts_without_primary_key():
    plan = _plan("append-only")

    assert _sql(plan.statement).startswith('INSERT INTO "WMS_ORDER_DETAILS" ("ID", ')
    assert "PRIMARY KEY" not in str(sa.schema.CreateTable(plan.table).compile(dialect=ORACLE))


def test_old_versions_are_soft_or_hard_deleted():
    table = _plan().table
    soft = _sql(
        statements.retire_old_versions_statement(
            table, VERSION_COLUMN, DELETED_COLUMN, dialects.ORACLE
        )
    )
    hard = _sql(
        statements.retire_old_versions_statement(table, VERSION_COLUMN, None, dialects.ORACLE)
    )

    assert soft == (
        'UPDATE "WMS_ORDER_DETAILS" SET "SDC_DELETED_AT"=TO_TIMESTAMP_TZ(:deleted_at, '
        '\'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM\') WHERE ("WMS_ORDER_DETAILS"."SDC_TABLE_VERSION" '
        '< :version OR "WMS_ORDER_DETAILS"."SDC_TABLE_VERSION" IS NULL) AND '
        '"WMS_ORDER_DETAILS"."SDC_DELETED_AT" IS NULL'
    )
    assert hard == (
        'DELETE FROM "WMS_ORDER_DETAILS" WHERE "WMS_ORDER_DETAILS"."SDC_TABLE_VERSION" < :version '
        'OR "WMS_ORDER_DETAILS"."SDC_TABLE_VERSION" IS NULL'
    )


def test_a_full_sync_retires_only_rows_loaded_before_it_started():
    table = _plan().table
    soft = _sql(
        statements.retire_old_versions_statement(
            table, VERSION_COLUMN, DELETED_COLUMN, dialects.ORACLE, loaded_column="SDC_LOADED_AT"
        )
    )
    assert soft.endswith(
        '"WMS_ORDER_DETAILS"."SDC_DELETED_AT" IS NULL AND ("WMS_ORDER_DETAILS"."SDC_LOADED_AT" IS '
        'NULL OR "WMS_ORDER_DETAILS"."SDC_LOADED_AT" < TO_TIMESTAMP_TZ(:started, '
        "'YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM'))"
    )
    assert "SYSTIMESTAMP" in dialects.ORACLE.clock_sql()  # rows stamped on the database's clock


def test_a_key_column_is_adopted_with_oracle_alter_statements():
    assert dialects.ORACLE.alters_keys_in_place
    assert (
        dialects.ORACLE.drop_primary_key_ddl('"T"') == 'ALTER TABLE "T" DROP PRIMARY KEY DROP INDEX'
    )
    assert dialects.ORACLE.add_column_ddl('"T"', '"WMS_ENV"', "VARCHAR2(128 CHAR)") == (
        'ALTER TABLE "T" ADD ("WMS_ENV" VARCHAR2(128 CHAR))'
    )


def test_a_scoped_full_sync_retires_only_rows_holding_its_scope_values():
    table = _plan().table
    scope = ["ORDER_ID_KEY", "CUST_FIELD_1"]  # any columns, e.g. WMS_ENV
    soft = _sql(
        statements.retire_old_versions_statement(
            table, VERSION_COLUMN, DELETED_COLUMN, dialects.ORACLE, scope
        )
    )
    hard = _sql(
        statements.retire_old_versions_statement(
            table, VERSION_COLUMN, None, dialects.ORACLE, scope
        )
    )

    within = (
        ' AND "WMS_ORDER_DETAILS"."ORDER_ID_KEY" = :scope_0'
        ' AND "WMS_ORDER_DETAILS"."CUST_FIELD_1" = :scope_1'
    )
    assert soft.endswith('"WMS_ORDER_DETAILS"."SDC_DELETED_AT" IS NULL' + within)
    assert hard.startswith('DELETE FROM "WMS_ORDER_DETAILS" WHERE (')
    assert hard.endswith('"SDC_TABLE_VERSION" IS NULL)' + within)
    assert _sql(statements.delete_all_statement(table)) == 'DELETE FROM "WMS_ORDER_DETAILS"'


def test_schema_evolution_uses_oracle_alter_syntax():
    plan = _plan()
    existing = {
        column: kind_from_declared(declared)
        for column, declared in {
            "ID": "NUMBER(19, 0)",
            "ORDER_ID_KEY": "VARCHAR2(20 CHAR)",  # widens in place
            "ORD_QTY": "NUMBER",
            "STATUS_ID": "NUMBER(19)",
            "CUST_FIELD_1": "VARCHAR2(50 CHAR)",
            "MOD_TS": "TIMESTAMP(6) WITH TIME ZONE",
            "NOTES": "VARCHAR2(4000 CHAR)",  # must become CLOB
            "LEVEL_": "NUMBER(1)",  # boolean column now receiving integers
        }.items()
    }
    ddl = evolution_ddl(plan.table, plan.kinds, existing, ORACLE)

    assert 'ALTER TABLE "WMS_ORDER_DETAILS" MODIFY ("ORDER_ID_KEY" VARCHAR2(30 CHAR))' in ddl
    assert 'ALTER TABLE "WMS_ORDER_DETAILS" MODIFY ("LEVEL_" NUMBER(19))' in ddl
    assert 'ALTER TABLE "WMS_ORDER_DETAILS" ADD ("CUST_DATE_1" DATE)' in ddl
    assert (
        'ALTER TABLE "WMS_ORDER_DETAILS" ADD ("SDC_DELETED_AT" TIMESTAMP(6) WITH TIME ZONE)' in ddl
    )
    clob = ddl.index('ALTER TABLE "WMS_ORDER_DETAILS" ADD ("NOTES__WIDEN" CLOB)')
    assert ddl[clob : clob + 4] == [
        'ALTER TABLE "WMS_ORDER_DETAILS" ADD ("NOTES__WIDEN" CLOB)',
        'UPDATE "WMS_ORDER_DETAILS" SET "NOTES__WIDEN" = "NOTES"',
        'ALTER TABLE "WMS_ORDER_DETAILS" DROP COLUMN "NOTES"',
        'ALTER TABLE "WMS_ORDER_DETAILS" RENAME COLUMN "NOTES__WIDEN" TO "NOTES"',
    ]
    assert not [s for s in ddl if '"ID"' in s or '"MOD_TS"' in s or '"ORD_QTY"' in s]


def test_integer_column_receiving_decimals_becomes_number():
    plan = _plan()
    existing = dict(plan.kinds)
    existing["ORD_QTY"] = Kind("integer")

    assert evolution_ddl(plan.table, plan.kinds, existing, ORACLE) == [
        'ALTER TABLE "WMS_ORDER_DETAILS" MODIFY ("ORD_QTY" NUMBER)'
    ]


def test_interrupted_clob_rebuild_is_finished_on_the_next_run():
    plan = _plan()
    existing = {c: k for c, k in plan.kinds.items() if c != "NOTES"}
    existing["NOTES__WIDEN"] = Kind("clob")  # killed between DROP and RENAME

    assert evolution_ddl(plan.table, plan.kinds, existing, ORACLE) == [
        'ALTER TABLE "WMS_ORDER_DETAILS" RENAME COLUMN "NOTES__WIDEN" TO "NOTES"'
    ]


def test_types_the_target_created_read_back_as_themselves():
    for kind in _plan().kinds.values():
        declared = str(dialects.ORACLE.sql_type(kind).compile(dialect=ORACLE))
        assert kind_from_declared(declared).family == (
            "clob" if kind.family == "json" else kind.family
        )


def test_keyed_load_into_a_keyless_table_adds_a_unique_index():
    ddl = unique_key_ddl(_plan().table, ["ID"], ORACLE)

    assert ddl == 'CREATE UNIQUE INDEX "WMS_ORDER_DETAILS_KEY" ON "WMS_ORDER_DETAILS" ("ID")'


def test_oracle_batch_rows_bind_exact_values_by_merge_name():
    plan = _plan()
    columns = row_columns(plan, {"properties": PROPERTIES}, plan.kinds, checked=True)
    build = compile_row_builder(columns, dialects.ORACLE)
    record = {"id": 1, "ord_qty": Decimal("12.500"), "mod_ts": "2026-01-05T10:00:00-03:00"}
    rows = [build({**record, "is_back_order": True, "attrs": {"a": 1}}, {"version": 3})]
    sql, names = statements.compile_sql(plan.statement, ORACLE)

    (bound,) = statements.bind_rows(rows, names, ORACLE)

    assert all(f":{name} " in sql or f":{name}," in sql for name in bound)
    assert bound["ID"] == 1
    assert bound["ORD_QTY"] == Decimal("12.500")  # python-oracledb binds Decimal as NUMBER
    assert bound["MOD_TS"] == "2026-01-05T10:00:00.000000-03:00"  # for TO_TIMESTAMP_TZ
    assert (bound["IS_BACK_ORDER"], bound["ATTRS"]) == (1, '{"a":1}')
    assert bound["SDC_TABLE_VERSION"] == 3


def test_oracle_varchar2_values_are_checked_in_bytes_not_only_characters():
    # a string without maxLength is VARCHAR2(4000 CHAR), which still holds only 4,000 bytes
    properties = {**PROPERTIES, "remarks": {"type": ["string", "null"]}}
    plan = _plan_for(properties)
    columns = row_columns(
        plan, {"properties": properties}, plan.kinds, checked=True, byte_limit=4000
    )
    build = compile_row_builder(columns, dialects.ORACLE)
    record = {"id": 1, "mod_ts": "2026-01-05T10:00:00-03:00"}

    assert "ç" * 1999 in build({**record, "remarks": "ç" * 1999}, {})  # 3,998 bytes
    with pytest.raises(FieldError, match="4002 bytes in UTF-8, more than the 4000") as error:
        build({**record, "remarks": "ç" * 2001}, {})  # 2,001 characters, 4,002 bytes
    assert error.value.field == "remarks"


def test_oracle_binds_declare_their_types():
    plan = _plan()

    sizes = dialects.ORACLE.input_sizes(plan.kinds)

    assert set(sizes) == set(plan.kinds)  # a None in the first row cannot mislead the driver
    assert sizes["NOTES"] is sizes["ATTRS"] is oracledb.DB_TYPE_CLOB  # no ORA-01461 past 4000
    assert sizes["ID"] is sizes["ORD_QTY"] is sizes["IS_BACK_ORDER"] is oracledb.DB_TYPE_NUMBER
    assert (sizes["ORDER_ID_KEY"], sizes["MOD_TS"], sizes["CUST_DATE_1"]) == (30, 32, 10)
    assert dialects.SQLITE.input_sizes(plan.kinds) == {}


# The load audit table ---------------------------------------------------------------------

AUDIT = audit.audit_table("SDC_LOAD_AUDIT", "WMS", dialects.ORACLE)


def test_audit_table_has_unquoted_identifiers_and_oracle_types():
    ddl = " ".join(str(sa.schema.CreateTable(AUDIT).compile(dialect=ORACLE)).split())

    assert ddl.startswith('CREATE TABLE "WMS"."SDC_LOAD_AUDIT" (')
    for column in [
        '"RUN_ID" VARCHAR2(36 CHAR) NOT NULL',
        '"STREAM_NAME" VARCHAR2(400 CHAR) NOT NULL',
        '"TABLE_NAME" VARCHAR2(128 CHAR)',
        '"STARTED_AT" TIMESTAMP(6) WITH TIME ZONE',
        '"ENDED_AT" TIMESTAMP(6) WITH TIME ZONE',
        '"STATUS" VARCHAR2(10 CHAR)',
        '"ROWS_WRITTEN" NUMBER(19)',
        '"ROWS_SKIPPED_OLDER" NUMBER(19)',
        '"ROWS_RETIRED" NUMBER(19)',
        '"MAX_BOOKMARK" TIMESTAMP(6) WITH TIME ZONE',
        '"MESSAGE" VARCHAR2(4000 CHAR)',
        'PRIMARY KEY ("RUN_ID", "STREAM_NAME")',
    ]:
        assert column in ddl
    for name in [AUDIT.name, *(c.name for c in AUDIT.columns)]:
        # upper case, a letter first, not reserved: the same name unquoted
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name) and name not in RESERVED


def test_audit_statements_bind_date_times_with_an_explicit_format():
    insert = _sql(audit.insert_statement(AUDIT, dialects.ORACLE))
    update = _sql(audit.update_counts_statement(AUDIT, dialects.ORACLE))
    end = _sql(audit.end_statement(AUDIT, dialects.ORACLE))

    stamp = "TO_TIMESTAMP_TZ(:{}, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM')"
    assert insert.startswith('INSERT INTO "WMS"."SDC_LOAD_AUDIT" ("RUN_ID", "STREAM_NAME"')
    assert stamp.format("STARTED_AT") in insert
    assert insert.endswith(":STATUS, 0, 0, 0, 0, 0, :JOB_RUN_ID)")
    assert '"ROWS_WRITTEN"=:v_ROWS_WRITTEN' in update
    assert '"MAX_BOOKMARK"=' + stamp.format("v_MAX_BOOKMARK") in update
    assert update.endswith(
        'WHERE "WMS"."SDC_LOAD_AUDIT"."RUN_ID" = :w_run '
        'AND "WMS"."SDC_LOAD_AUDIT"."STREAM_NAME" = :w_stream'
    )
    kept = 'CASE WHEN ("WMS"."SDC_LOAD_AUDIT"."STATUS" = :STATUS_1) THEN "WMS"."SDC_LOAD_AUDIT".'
    assert f'"STATUS"={kept}"STATUS" ELSE :v_STATUS END' in update  # a failed row stays failed
    assert '"ENDED_AT"=' + stamp.format("v_ENDED_AT") in end
    # the final batch writes why a stream is incomplete
    assert f'"MESSAGE"={kept}"MESSAGE" ELSE :v_MESSAGE END' in update
    assert end.endswith('WHERE "WMS"."SDC_LOAD_AUDIT"."RUN_ID" = :w_run')


def test_marking_a_run_failed_matches_either_run_id_and_keeps_earlier_failures():
    mark = _sql(audit.mark_failed_statement(AUDIT, dialects.ORACLE))
    count = _sql(audit.run_rows_statement(AUDIT))
    end_one = _sql(audit.end_stream_statement(AUDIT, dialects.ORACLE))

    table = '"WMS"."SDC_LOAD_AUDIT"'
    stamp = "TO_TIMESTAMP_TZ(:v_ENDED_AT, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM')"
    assert mark.startswith(f'UPDATE {table} SET "ENDED_AT"=coalesce({table}."ENDED_AT", {stamp})')
    assert '"STATUS"=:v_STATUS' in mark and '"MESSAGE"=:v_MESSAGE' in mark
    run = f'{table}."RUN_ID" = :w_run OR {table}."JOB_RUN_ID" = :w_run'
    assert mark.endswith(f'WHERE ({run}) AND {table}."STATUS" != :STATUS_1')
    assert count == f"SELECT count(*) AS count_1 FROM {table} WHERE {run}"
    assert end_one.endswith(
        f'WHERE {table}."RUN_ID" = :w_run AND {table}."STREAM_NAME" = :w_stream'
    )
