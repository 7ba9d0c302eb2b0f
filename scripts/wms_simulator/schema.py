"""Entity definitions: fields as `describe` reports them and how each value is produced.

Most field values are not stored: they are derived on demand from a 64-bit hash of
(seed, entity, id, field). Only what changes or links records (parent, mod_ts, create_ts,
explicit changes) is stored, which keeps 200,000-record tables small and fast to build.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .clock import US_PER_SECOND, from_us

_MASK64 = (1 << 64) - 1
_BITS40 = 1 << 40


def mix64(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread deterministic hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def name_salt(name: str) -> int:
    return mix64(zlib.crc32(name.encode()))


def field_hash(record_base: int, salt: int) -> int:
    """The hash one field's value is derived from; `record_base` is mix64(table salt + id).
    One multiply and one xor-shift: the base is already well mixed, and this runs ~40 times
    per served record."""
    h = ((record_base ^ salt) * 0x9E3779B97F4A7C15) & _MASK64
    return h ^ (h >> 29)


@dataclass(slots=True)
class Row:
    """The stored part of one record; everything else is derived from the hash."""

    id: int
    parent: int | None
    seq: int
    create_ts: int
    mod_ts: int
    changes: dict[str, Any] | None = None


Generator = Callable[[int, Row], Any]

# --- value generators: (hash, row) -> internal value -------------------------------------------


def _unit(h: int) -> float:
    return (h & (_BITS40 - 1)) / _BITS40


def choice(*options: Any) -> Generator:
    return lambda h, row: options[h % len(options)]


def integer(lo: int, hi: int) -> Generator:
    return lambda h, row: lo + h % (hi - lo + 1)


def decimal(lo: float, hi: float, places: int = 2) -> Generator:
    return lambda h, row: round(lo + _unit(h) * (hi - lo), places)


def code(prefix: str, width: int, modulo: int = 10**8) -> Generator:
    return lambda h, row: f"{prefix}{h % modulo:0{width}d}"


def nullable(null_share: float, gen: Generator) -> Generator:
    threshold = int(null_share * 65536)
    return lambda h, row: None if (h & 0xFFFF) < threshold else gen(h >> 16, row)


def ts_after_create(max_hours: int) -> Generator:
    """A moment between create_ts and mod_ts (the record was saved when it happened)."""
    span = max_hours * 3600 * US_PER_SECOND
    return lambda h, row: row.create_ts + h % max(1, min(span, row.mod_ts - row.create_ts + 1))


def date_after_create(max_days: int) -> Generator:
    def gen(h: int, row: Row) -> date:
        return from_us(row.create_ts).date() + timedelta(days=h % (max_days + 1))

    return gen


def from_id(template: str) -> Generator:
    return lambda h, row: template.format(row.id)


def named(names: dict[int, str], template: str) -> Generator:
    """A fixed name for the seeded ids of a code table, `template` for records added later."""
    return lambda h, row: names.get(row.id) or template.format(row.id)


# --- reference data reached through relations (not exposed as entities: blank `url`) -----------

LOOKUP_TABLES: dict[str, dict[int, str]] = {
    "uom": {1: "UNIT", 2: "BOX", 3: "PALLET"},
    "ship_via": {1: "GROUND", 2: "EXPRESS", 3: "PICKUP"},
    "ob_lpn_type": {1: "CARTON", 2: "PALLET"},
    "allocation_type": {1: "PICK", 2: "REPLENISH"},
    "mhe_system": {1: "SORTER1", 2: "SORTER2"},
}
# Larger reference sets whose key is derived from the id: name -> (prefix, width).
LOOKUP_PATTERNS: dict[str, tuple[str, int]] = {
    "task": ("TSK", 8),
    "wave": ("WAVE", 6),
    "batch_number": ("BATCH", 6),
    "invn_attr": ("ATTR", 6),
    "vendor": ("VND", 5),
}
LOOKUP_FIELDS = ("id", "code", "name")


def lookup_key(entity: str, rid: int) -> str | None:
    table = LOOKUP_TABLES.get(entity)
    if table is not None:
        return table.get(rid)
    prefix, width = LOOKUP_PATTERNS[entity]
    return f"{prefix}{rid:0{width}d}"


def is_lookup(entity: str) -> bool:
    return entity in LOOKUP_TABLES or entity in LOOKUP_PATTERNS


# --- entity fields ------------------------------------------------------------------------------

# Where a value comes from: the stored Row, a generator, or a child link.
ID, PARENT, SEQ, CREATE_TS, MOD_TS, GEN, CHILDREN, NO_SET = (
    "id",
    "parent",
    "seq",
    "create_ts",
    "mod_ts",
    "gen",
    "children",
    "no_set",
)


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    source: str = GEN
    gen: Generator | None = None
    max_length: int | None = None
    required: str = "N"
    default: Any = None
    target: str | None = None  # related entity of a relation
    salt: int = field(default=0, compare=False)
    # A relation to a served entity without `gen`: an id among the target's seeded records,
    # null for this share of them (the store resolves it, as it knows the table sizes).
    null_share: float = 0.0
    # A value computed from another field of the same record: (that field, function).
    derive: tuple[str, Callable[[Any], Any]] | None = None
    # A facility_id spread over the seeded facilities (see `facility_of`) by the record's
    # hash ("hash"), its id ("id"), or the value of the `derive` field ("derive").
    facility_by: str | None = None

    @property
    def is_set(self) -> bool:
        return self.source in (CHILDREN, NO_SET)

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "allow_blank": self.required == "N",
            "max_length": self.max_length,
            "required": self.required,
            "default": self.default,
        }


def _f(name: str, type_: str, gen: Generator | None = None, **kw: Any) -> Field:
    return Field(name, type_, gen=gen, salt=name_salt(name), **kw)


def varchar(name: str, length: int, gen: Generator, **kw: Any) -> Field:
    return _f(name, "varchar", gen, max_length=length, **kw)


def relation(name: str, target: str, gen: Generator | None = None, **kw: Any) -> Field:
    """A related record; to a lookup table without `gen`: one of its keys."""
    if gen is None and target in LOOKUP_TABLES:
        gen = choice(*sorted(LOOKUP_TABLES[target]))
    return _f(name, "relation", gen, target=target, **kw)


def facility_of(n: int, facilities: int = 2) -> int:
    """70 % of records in FAC1 (id 1), the rest in FAC2; with more facilities (counts), an
    equal share in each."""
    if facilities > 2:
        return n % facilities + 1
    return 1 if n % 10 < 7 else 2


def facility(by: str, source: str | None = None, **kw: Any) -> Field:
    """The record's `facility_id`: the store spreads it over the seeded facilities."""
    derive = (source, facility_of) if source else None
    return _f("facility_id", "relation", target="facility", facility_by=by, derive=derive, **kw)


def ref(name: str, target: str, null_share: float = 0.0, **kw: Any) -> Field:
    """A relation to an entity this API serves, always to one of its seeded records."""
    return _f(name, "relation", target=target, null_share=null_share, **kw)


def status(values: tuple[int, ...]) -> Field:
    """`status_id`: a relation in the metadata, yet served as a bare integer (no target)."""
    return _f("status_id", "relation", choice(*values), required="Y")


def _audit() -> list[Field]:
    users = choice("INTEGRATION", "JSILVA", "MSOUZA", "WMSADMIN")
    return [
        _f("create_ts", "datetime", source=CREATE_TS, required="Y"),
        varchar("create_user", 25, users),
        _f("mod_ts", "datetime", source=MOD_TS, required="Y"),
        varchar("mod_user", 25, users),
    ]


def _custom_fields(dates: int, decimals: int, numbers: int) -> list[Field]:
    """Tenant custom fields (cust_field_1 is varchar(50) on the reference tenant)."""
    out = [varchar(f"cust_field_{i}", 50, nullable(0.4, code(f"CF{i}-", 6))) for i in range(1, 6)]
    out += [
        _f(f"cust_date_{i}", "date", nullable(0.5, date_after_create(30)))
        for i in range(1, dates + 1)
    ]
    out += [
        _f(f"cust_decimal_{i}", "decimal", nullable(0.5, decimal(0, 1000, 4)))
        for i in range(1, decimals + 1)
    ]
    out += [
        _f(f"cust_number_{i}", "integer", nullable(0.5, integer(0, 99999)))
        for i in range(1, numbers + 1)
    ]
    return out


_CITIES = ("Sao Paulo", "Campinas", "Curitiba", "Porto Alegre", "Belo Horizonte", "Recife")
_STATES = ("SP", "SP", "PR", "RS", "MG", "PE")
_NAMES = ("Mercado Sol", "Loja Azul", "Casa Verde Ltda", "Distribuidora Norte", "Super Econ")
_STATUSES_HDR = (1, 10, 20, 25, 27, 30, 40, 50, 90, 99)
_STATUSES_DTL = (1, 10, 20, 30, 40, 90, 99)
_STATUSES_ALLOC = (1, 10, 20, 90, 99)


def _address(prefix: str) -> list[Field]:
    return [
        varchar(f"{prefix}_name", 100, choice(*_NAMES)),
        varchar(f"{prefix}_addr", 100, lambda h, row: f"Rua {h % 900 + 1}, {h % 7000 + 10}"),
        varchar(f"{prefix}_city", 40, choice(*_CITIES)),
        varchar(f"{prefix}_state", 3, choice(*_STATES)),
        varchar(f"{prefix}_zip", 10, code("", 8)),
        varchar(f"{prefix}_country", 3, choice("BR")),
        varchar(f"{prefix}_phone", 20, nullable(0.3, code("+55 11 9", 8))),
        varchar(f"{prefix}_email", 100, nullable(0.5, code("cliente", 5))),
    ]


ORDER_HDR = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("order_nbr", 50, from_id("ORD{:08d}"), required="Y"),
    relation("order_type_id", "order_type", choice(1, 2, 3), required="Y"),
    status(_STATUSES_HDR),
    facility("hash", required="Y"),
    relation("company_id", "company", lambda h, row: company_of(h), required="Y"),
    _f("ord_date", "datetime", ts_after_create(2)),
    _f("req_ship_date", "date", date_after_create(10)),
    _f("sched_ship_date", "date", nullable(0.3, date_after_create(12))),
    _f("start_ship_date", "date", nullable(0.5, date_after_create(5))),
    _f("stop_ship_date", "date", nullable(0.5, date_after_create(20))),
    _f("order_shipped_ts", "datetime", nullable(0.7, ts_after_create(72))),
    _f("priority", "integer", integer(1, 9)),
    *_address("cust"),
    *_address("shipto"),
    varchar("customer_po_nbr", 50, nullable(0.2, code("PO", 9))),
    varchar("sales_order_nbr", 50, code("SO", 9)),
    relation("ship_via_id", "ship_via", nullable(0.2, choice(1, 2, 3))),
    relation("dest_facility_id", "facility", nullable(0.9, choice(1, 2))),
    relation("destination_company_id", "company", nullable(0.9, choice(1, 2))),
    _f("total_orig_ord_qty", "decimal", decimal(1, 5000, 4)),
    _f("orig_sku_count", "integer", integer(1, 40)),
    varchar("erp_source_hdr_ref", 50, code("ERP", 10)),
    varchar("tms_order_hdr_ref", 50, nullable(0.6, code("TMS", 8))),
    *_custom_fields(dates=2, decimals=2, numbers=2),
    _f("order_dtl_set", "relation", source=CHILDREN, target="order_dtl"),
    _f("order_lock_set", "relation", source=NO_SET),
    _f("order_instructions_set", "relation", source=NO_SET),
    *_audit(),
]

ORDER_DTL = [
    _f("id", "pk", source=ID, required="Y"),
    _f("order_id", "relation", source=PARENT, target="order_hdr", required="Y"),
    _f("seq_nbr", "integer", source=SEQ, required="Y"),
    ref("item_id", "item", required="Y"),
    _f("ord_qty", "decimal", decimal(1, 500, 4), required="Y"),
    _f("orig_ord_qty", "decimal", decimal(1, 500, 4)),
    _f("alloc_qty", "decimal", decimal(0, 500, 4)),
    relation("ordered_uom_id", "uom"),
    _f("ordered_uom_qty", "decimal", decimal(1, 100, 4)),
    relation("uom_id", "uom"),
    status(_STATUSES_DTL),
    relation("batch_number_id", "batch_number", nullable(0.7, integer(1, 99999))),
    relation("invn_attr_id", "invn_attr", nullable(0.8, integer(1, 99999))),
    relation("ob_lpn_type_id", "ob_lpn_type", nullable(0.5, choice(1, 2))),
    _f("cost", "decimal", nullable(0.1, decimal(0.5, 900, 4))),
    _f("sale_price", "decimal", nullable(0.1, decimal(1, 1500, 4))),
    varchar("po_nbr", 50, nullable(0.3, code("PO", 9))),
    varchar("shipment_nbr", 50, nullable(0.5, code("SHP", 8))),
    varchar("serial_nbr", 50, nullable(0.9, code("SN", 10))),
    varchar("lock_code", 10, nullable(0.95, choice("QC", "HOLD"))),
    varchar("erp_source_line_ref", 50, code("LN", 8)),
    varchar("voucher_nbr", 50, nullable(0.9, code("VC", 8))),
    _f("voucher_amount", "decimal", nullable(0.9, decimal(1, 200, 2))),
    *_custom_fields(dates=2, decimals=2, numbers=2),
    _f("order_instructions_set", "relation", source=NO_SET),
    _f("required_serial_nbr_set", "relation", source=NO_SET),
    *_audit(),
]

ALLOCATION = [
    _f("id", "pk", source=ID, required="Y"),
    _f("alloc_qty", "decimal", decimal(1, 500, 4), required="Y"),
    relation("alloc_uom_id", "uom"),
    relation("cartonize_uom_id", "uom", nullable(0.6, choice(1, 2, 3))),
    varchar("final_oblpn_nbr", 50, nullable(0.5, code("LPN", 10))),
    ref("from_inventory_id", "inventory"),
    _f("is_picking_flg", "boolean", lambda h, row: h % 4 == 0),
    relation("mhe_system_id", "mhe_system", nullable(0.9, choice(1, 2))),
    relation("ob_lpn_type_id", "ob_lpn_type", nullable(0.5, choice(1, 2))),
    _f("order_dtl_id", "relation", source=PARENT, target="order_dtl", required="Y"),
    _f("packed_qty", "decimal", decimal(0, 500, 4)),
    varchar("pick_locn_str", 50, lambda h, row: f"A{h % 40:02d}-{h % 97:02d}-{h % 5}"),
    varchar("pick_user", 25, nullable(0.5, choice("JSILVA", "MSOUZA", "RF01"))),
    _f("picked_ts", "datetime", nullable(0.5, ts_after_create(48))),
    status(_STATUSES_ALLOC),
    relation("task_id", "task", nullable(0.3, integer(1, 10**7))),
    _f("task_seq_nbr", "integer", integer(1, 60)),
    ref("to_inventory_id", "inventory", null_share=0.5),
    relation("type_id", "allocation_type", required="Y"),
    relation("wave_id", "wave", nullable(0.2, integer(1, 99999))),
    *_audit(),
]


def company_of(n: int) -> int:
    """85 % of records for GRUPONOS (id 1), the rest for OTHERCO."""
    return 1 if n % 20 < 17 else 2


def _derived(name: str, target: str, source: str, fn: Callable[[Any], Any], **kw: Any) -> Field:
    return _f(name, "relation", target=target, derive=(source, fn), **kw)


_ORDER_STATUS_NAMES = {
    1: "CREATED",
    10: "PARTLY_ALLOCATED",
    20: "ALLOCATED",
    25: "IN_PICKING",
    27: "PICKED",
    30: "IN_PACKING",
    40: "PACKED",
    50: "LOADED",
    90: "SHIPPED",
    99: "CANCELLED",
}

FACILITY = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("code", 20, named({1: "FAC1", 2: "FAC2"}, "FAC{}"), required="Y"),
    varchar("name", 100, named({1: "CD Sao Paulo", 2: "CD Curitiba"}, "Facility {}")),
    varchar("facility_type", 10, choice("DC", "STORE")),
    varchar("city", 40, choice(*_CITIES)),
    varchar("state", 3, choice(*_STATES)),
    varchar("time_zone", 40, choice("America/Sao_Paulo")),
    *_audit(),
]

COMPANY = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("code", 20, named({1: "GRUPONOS", 2: "OTHERCO"}, "CO{}"), required="Y"),
    varchar("name", 100, named({1: "Grupo Nos", 2: "Other Company"}, "Company {}")),
    varchar("tax_id", 20, code("", 14)),
    *_audit(),
]

ORDER_TYPE = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("code", 20, named({1: "STANDARD", 2: "ECOMMERCE", 3: "TRANSFER"}, "TYPE{}")),
    varchar("description", 100, named({1: "Standard", 2: "E-commerce", 3: "Transfer"}, "Type {}")),
    _f("is_default_flg", "boolean", lambda h, row: row.id == 1),
    *_audit(),
]

# A code table without audit fields: no mod_ts to read it by, so it is read in full.
ORDER_STATUS = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("code", 20, named(_ORDER_STATUS_NAMES, "STATUS{}"), required="Y"),
    varchar("description", 100, lambda h, row: _ORDER_STATUS_NAMES.get(row.id, "?").title()),
]

ITEM = [
    _f("id", "pk", source=ID, required="Y"),
    _f("company_id", "relation", lambda h, row: company_of(row.id), target="company"),
    varchar("code", 50, from_id("ITEM-{:05d}"), required="Y"),
    varchar("description", 200, choice("Caixa 12un", "Fardo 6un", "Pallet misto", "Unidade")),
    varchar("barcode", 50, code("789", 10)),
    _f("unit_cost", "decimal", decimal(0.5, 900, 4)),
    _f("unit_weight", "decimal", decimal(0.01, 50, 3)),
    _f("std_case_qty", "integer", integer(1, 48)),
    _f("is_serial_tracked_flg", "boolean", lambda h, row: h % 9 == 0),
    *_custom_fields(dates=1, decimals=1, numbers=1),
    *_audit(),
]

LOCATION = [
    _f("id", "pk", source=ID, required="Y"),
    facility("id"),
    varchar("locn_str", 50, lambda h, row: f"A{row.id % 40:02d}-{row.id // 40 % 97:02d}-{row.id}"),
    varchar("area", 10, choice("PICK", "RESERVE", "DOCK", "STAGE")),
    varchar("aisle", 5, code("", 2, 40)),
    varchar("bay", 5, code("", 2, 97)),
    varchar("lvl", 5, code("", 1, 6)),
    _f("max_units", "integer", nullable(0.3, integer(10, 5000))),
    _f("is_locked_flg", "boolean", lambda h, row: h % 25 == 0),
    *_custom_fields(dates=0, decimals=1, numbers=0),
    *_audit(),
]

CONTAINER = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("container_nbr", 50, from_id("LPN{:010d}"), required="Y"),
    ref("curr_location_id", "location", required="Y"),
    facility("derive", "curr_location_id", required="Y"),
    relation("company_id", "company", lambda h, row: company_of(h), required="Y"),
    varchar("type", 5, choice("I", "O")),  # iLPN / oLPN
    status((0, 10, 30, 90)),
    _f("weight", "decimal", nullable(0.4, decimal(0.1, 900, 3))),
    *_custom_fields(dates=0, decimals=0, numbers=1),
    *_audit(),
]

INVENTORY = [
    _f("id", "pk", source=ID, required="Y"),
    ref("item_id", "item", required="Y"),
    ref("location_id", "location", required="Y"),
    ref("container_id", "container", null_share=0.5),
    # The facility of its location and the company of its item.
    facility("derive", "location_id", required="Y"),
    _derived("company_id", "company", "item_id", company_of, required="Y"),
    _f("curr_qty", "decimal", decimal(0, 1000, 4), required="Y"),
    _f("orig_qty", "decimal", decimal(0, 1000, 4)),
    relation("batch_number_id", "batch_number", nullable(0.7, integer(1, 99999))),
    _f("expiry_date", "date", nullable(0.6, date_after_create(365))),
    status((0, 10, 20)),
    *_custom_fields(dates=1, decimals=1, numbers=1),
    *_audit(),
]

IB_SHIPMENT = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("shipment_nbr", 50, from_id("ASN{:08d}"), required="Y"),
    facility("hash", required="Y"),
    relation("company_id", "company", lambda h, row: company_of(h), required="Y"),
    relation("vendor_id", "vendor", nullable(0.2, integer(1, 500))),
    status((0, 10, 20, 30, 90)),
    varchar("trailer_nbr", 20, nullable(0.4, code("TRL", 6))),
    _f("shipped_date", "date", date_after_create(5)),
    _f("verified_ts", "datetime", nullable(0.5, ts_after_create(48))),
    *_custom_fields(dates=1, decimals=0, numbers=0),
    _f("ib_shipment_dtl_set", "relation", source=CHILDREN, target="ib_shipment_dtl"),
    *_audit(),
]

IB_SHIPMENT_DTL = [
    _f("id", "pk", source=ID, required="Y"),
    _f("ib_shipment_id", "relation", source=PARENT, target="ib_shipment", required="Y"),
    _f("seq_nbr", "integer", source=SEQ, required="Y"),
    ref("item_id", "item", required="Y"),
    _f("shipped_qty", "decimal", decimal(1, 500, 4), required="Y"),
    _f("received_qty", "decimal", decimal(0, 500, 4)),
    varchar("po_nbr", 50, nullable(0.3, code("PO", 9))),
    *_custom_fields(dates=0, decimals=0, numbers=0),
    *_audit(),
]

PURCHASE_ORDER_HDR = [
    _f("id", "pk", source=ID, required="Y"),
    varchar("po_nbr", 50, from_id("PO{:09d}"), required="Y"),
    facility("hash", required="Y"),
    relation("company_id", "company", lambda h, row: company_of(h), required="Y"),
    relation("vendor_id", "vendor", integer(1, 500)),
    status((0, 10, 20, 90, 99)),
    _f("ord_date", "date", date_after_create(3)),
    _f("exp_delivery_date", "date", nullable(0.3, date_after_create(30))),
    *_custom_fields(dates=1, decimals=1, numbers=0),
    _f("purchase_order_dtl_set", "relation", source=CHILDREN, target="purchase_order_dtl"),
    *_audit(),
]

# The parent field does not follow `X_id` -> entity `X` (like order_dtl's `order_id`): only
# the relation's `url` says it points at purchase_order_hdr.
PURCHASE_ORDER_DTL = [
    _f("id", "pk", source=ID, required="Y"),
    _f("purchase_order_id", "relation", source=PARENT, target="purchase_order_hdr", required="Y"),
    _f("seq_nbr", "integer", source=SEQ, required="Y"),
    ref("item_id", "item", required="Y"),
    _f("ord_qty", "decimal", decimal(1, 500, 4), required="Y"),
    _f("received_qty", "decimal", decimal(0, 500, 4)),
    _f("unit_cost", "decimal", nullable(0.1, decimal(0.5, 900, 4))),
    status((0, 10, 20, 90)),
    *_custom_fields(dates=0, decimals=0, numbers=0),
    *_audit(),
]

ENTITIES: dict[str, list[Field]] = {
    "allocation": ALLOCATION,
    "order_hdr": ORDER_HDR,
    "order_dtl": ORDER_DTL,
    "facility": FACILITY,
    "company": COMPANY,
    "item": ITEM,
    "location": LOCATION,
    "inventory": INVENTORY,
    "container": CONTAINER,
    "order_type": ORDER_TYPE,
    "order_status": ORDER_STATUS,
    "ib_shipment": IB_SHIPMENT,
    "ib_shipment_dtl": IB_SHIPMENT_DTL,
    "purchase_order_hdr": PURCHASE_ORDER_HDR,
    "purchase_order_dtl": PURCHASE_ORDER_DTL,
}
# Child entity -> parent entity, and the PARENT field that links them.
PARENT_OF = {
    "order_dtl": "order_hdr",
    "allocation": "order_dtl",
    "ib_shipment_dtl": "ib_shipment",
    "purchase_order_dtl": "purchase_order_hdr",
}
PARENT_FIELD = {
    "order_dtl": "order_id",
    "allocation": "order_dtl_id",
    "ib_shipment_dtl": "ib_shipment_id",
    "purchase_order_dtl": "purchase_order_id",
}
# The field a relation object's `key` comes from (order_dtl's key is built, see the store).
KEY_FIELD = {
    "order_hdr": "order_nbr",
    "facility": "code",
    "company": "code",
    "order_type": "code",
    "order_status": "code",
    "item": "code",
    "location": "locn_str",
    "container": "container_nbr",
    "ib_shipment": "shipment_nbr",
    "purchase_order_hdr": "po_nbr",
}
# Code tables whose ids are fixed values other records use (status_id is a bare integer).
FIXED_IDS = {"order_status": tuple(_ORDER_STATUS_NAMES)}
CHILD_OF = {parent: child for child, parent in PARENT_OF.items()}
FIELDS: dict[str, dict[str, Field]] = {
    name: {f.name: f for f in fields} for name, fields in ENTITIES.items()
}


def describe(entity: str) -> dict[str, Any]:
    fields = ENTITIES[entity]
    return {
        "parameters": [f.name for f in fields if not f.is_set],
        "fields": {f.name: f.describe() for f in fields},
    }
