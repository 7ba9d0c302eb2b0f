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


# --- reference data reached through relations (not exposed as entities) -------------------------

LOOKUP_TABLES: dict[str, dict[int, str]] = {
    "facility": {1: "FAC1", 2: "FAC2"},
    "company": {1: "GRUPONOS", 2: "OTHERCO"},
    "order_type": {1: "STANDARD", 2: "ECOMMERCE", 3: "TRANSFER"},
    "uom": {1: "UNIT", 2: "BOX", 3: "PALLET"},
    "ship_via": {1: "GROUND", 2: "EXPRESS", 3: "PICKUP"},
    "ob_lpn_type": {1: "CARTON", 2: "PALLET"},
    "allocation_type": {1: "PICK", 2: "REPLENISH"},
    "mhe_system": {1: "SORTER1", 2: "SORTER2"},
}
# Larger reference sets whose key is derived from the id: name -> (prefix, width).
LOOKUP_PATTERNS: dict[str, tuple[str, int]] = {
    "item": ("ITEM-", 5),
    "inventory": ("INV", 8),
    "task": ("TSK", 8),
    "wave": ("WAVE", 6),
    "batch_number": ("BATCH", 6),
    "invn_attr": ("ATTR", 6),
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
    if gen is None:
        keys = sorted(LOOKUP_TABLES[target])
        gen = choice(*keys)
    return _f(name, "relation", gen, target=target, **kw)


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
_STATUSES_HDR = (0, 10, 20, 25, 27, 30, 40, 50, 90, 99)
_STATUSES_DTL = (0, 10, 20, 30, 40, 90, 99)
_STATUSES_ALLOC = (0, 10, 20, 90, 99)


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
    relation("order_type_id", "order_type", required="Y"),
    status(_STATUSES_HDR),
    relation("facility_id", "facility", lambda h, row: 1 if h % 10 < 7 else 2, required="Y"),
    relation("company_id", "company", lambda h, row: 1 if h % 20 < 17 else 2, required="Y"),
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
    relation("item_id", "item", integer(1, 5000), required="Y"),
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
    relation("from_inventory_id", "inventory", integer(1, 10**7)),
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
    relation("to_inventory_id", "inventory", nullable(0.5, integer(1, 10**7))),
    relation("type_id", "allocation_type", required="Y"),
    relation("wave_id", "wave", nullable(0.2, integer(1, 99999))),
    *_audit(),
]

ENTITIES: dict[str, list[Field]] = {
    "allocation": ALLOCATION,
    "order_hdr": ORDER_HDR,
    "order_dtl": ORDER_DTL,
}
# Child entity -> parent entity, and the PARENT field that links them.
PARENT_OF = {"order_dtl": "order_hdr", "allocation": "order_dtl"}
PARENT_FIELD = {"order_dtl": "order_id", "allocation": "order_dtl_id"}
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
