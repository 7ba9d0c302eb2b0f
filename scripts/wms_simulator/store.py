"""The simulator's data: seeded generation, lookups, rendering and mutations.

Each table keeps its rows in a dict, a sorted list of ids and a sorted list of (mod_ts, id)
tuples, so that `mod_ts` or `id` windows ordered by `mod_ts,id` or `id` are a bisect and a slice
instead of a scan and a sort. All access goes through `lock`.
"""

from __future__ import annotations

import bisect
import functools
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import repeat
from typing import Any

from . import schema
from .clock import US_PER_SECOND, format_us, now_us, parse_datetime_value, to_us
from .schema import (
    CHILDREN,
    CREATE_TS,
    FIELDS,
    GEN,
    ID,
    MOD_TS,
    NO_SET,
    PARENT,
    PARENT_OF,
    SEQ,
    Field,
    Generator,
    Row,
    field_hash,
    mix64,
    nullable,
)

SIM_USER = "SIMULATOR"
_PLAIN, _DATETIME, _DATE, _RELATION = range(4)
_SERVE = {"datetime": _DATETIME, "date": _DATE, "relation": _RELATION}
_US_PER_DAY = 86_400 * US_PER_SECOND
# Details per inbound shipment / purchase order (orders have `details_per_order`).
_LINES_PER_HEADER = 3


def default_counts(
    orders: int, details_per_order: int, allocations_per_detail: int
) -> dict[str, int]:
    """Records per entity: the order tables as asked, the rest scaled from `orders` so the
    small defaults stay fast and every relation has records to point at."""
    receipts = max(4, orders // 10)
    return {
        "order_hdr": orders,
        "order_dtl": orders * details_per_order,
        "allocation": orders * details_per_order * allocations_per_detail,
        "facility": 2,
        "company": 2,
        "item": max(20, orders // 2),
        "location": max(20, orders // 2),
        "inventory": max(20, orders),
        "container": max(10, orders // 4),
        "order_type": 3,
        "order_status": len(schema.FIXED_IDS["order_status"]),
        "ib_shipment": receipts,
        "ib_shipment_dtl": receipts * _LINES_PER_HEADER,
        "purchase_order_hdr": receipts,
        "purchase_order_dtl": receipts * _LINES_PER_HEADER,
    }


@dataclass
class Table:
    entity: str
    fields: dict[str, Field]
    salt: int
    rows: dict[int, Row] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)  # sorted (new ids are always the highest)
    index: list[tuple[int, int]] = field(default_factory=list)  # (mod_ts, id), sorted
    children: dict[int, list[int] | range] = field(default_factory=dict)  # id -> child ids
    next_id: int = 1

    def rebuild_index(self) -> None:
        self.index = sorted((row.mod_ts, rid) for rid, row in self.rows.items())


class DataStore:
    """All tables plus the operations the server and the test API need."""

    def __init__(
        self,
        orders: int,
        details_per_order: int,
        allocations_per_detail: int,
        seed: int,
        history_end_us: int | None = None,
        history_days: float = 7.0,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.version = 0  # bumped by every mutation; keys the query cache
        self.seed = seed
        self._rng = random.Random(seed)
        self.tables = {
            name: Table(name, FIELDS[name], mix64(seed * 1_000_003 + schema.name_salt(name)))
            for name in schema.ENTITIES
        }
        sizes = _sizes(orders, details_per_order, allocations_per_detail, counts or {})
        self._seed_ids = {
            name: schema.FIXED_IDS.get(name) or range(1, sizes[name] + 1) for name in sizes
        }
        self._gens: dict[tuple[str, str], Generator] = {}
        for name, table in self.tables.items():
            for f in table.fields.values():
                if f.source == GEN:
                    self._gens[name, f.name] = self._resolve_gen(name, f)
        self._plans = {name: self._render_plan(table) for name, table in self.tables.items()}
        if history_end_us is None:  # whole minutes: every record is older than "now"
            history_end_us = now_us() // 60_000_000 * 60_000_000
        per_parent = {
            child: sizes[child] // sizes[parent] if sizes[parent] else 0
            for child, parent in PARENT_OF.items()
        }
        self._generate(per_parent, history_end_us, int(history_days * _US_PER_DAY))

    # --- generation ------------------------------------------------------------------------

    def _resolve_gen(self, entity: str, f: Field) -> Generator:
        """A field's generator; relations to served entities pick among the target's seeded
        ids, derived fields follow the field they come from."""
        if f.facility_by is not None:
            return self._facility_gen(entity, f)
        if f.derive is not None:
            source, fn = f.derive
            other = self.getter(entity, source)
            return lambda h, row: None if (v := other(row.id)) is None else fn(v)
        if f.gen is not None:
            return f.gen
        ids = self._seed_ids[f.target]
        gen: Generator = lambda h, row: ids[h % len(ids)]  # noqa: E731
        return nullable(f.null_share, gen) if f.null_share else gen

    def _facility_gen(self, entity: str, f: Field) -> Generator:
        """A facility_id among however many facilities are seeded (see `facility_of`)."""
        pick = functools.partial(schema.facility_of, facilities=len(self._seed_ids["facility"]))
        if f.facility_by == "id":
            return lambda h, row: pick(row.id)
        if f.facility_by == "derive" and f.derive is not None:
            other = self.getter(entity, f.derive[0])
            return lambda h, row: None if (v := other(row.id)) is None else pick(v)
        return lambda h, row: pick(h)

    def _generate(self, per_parent: dict[str, int], end: int, span: int) -> None:
        for name, seeded in self._seed_ids.items():
            table = self.tables[name]
            count = len(seeded)
            rng = random.Random(f"{self.seed}:{name}")
            stamps = _seed_timestamps(rng, count, end, span)
            # 30% never modified since creation; the rest created up to two days earlier.
            creates = [
                ts - (0 if u < 0.3 else int(((u - 0.3) / 0.7) ** 3 * 2 * _US_PER_DAY))
                for ts, u in zip(stamps, [rng.random() for _ in range(count)], strict=True)
            ]
            ids = seeded
            k = per_parent.get(name, 0)
            parents = [i // k + 1 for i in range(count)] if k else repeat(None)
            seqs = [i % k + 1 for i in range(count)] if k else repeat(0)
            # In place: getters and render plans hold on to this dict.
            table.rows.update(zip(ids, map(Row, ids, parents, seqs, creates, stamps), strict=True))
            table.ids = list(ids)
            table.index = sorted(zip(stamps, ids, strict=True))
            table.next_id = max(ids, default=0) + 1
            if k:  # ranges until a child is added or removed (see _children_list)
                self.tables[PARENT_OF[name]].children = {
                    p: range((p - 1) * k + 1, p * k + 1) for p in range(1, count // k + 1)
                }

    # --- reading ---------------------------------------------------------------------------

    def count(self, entity: str) -> int:
        return len(self.tables[entity].rows)

    def getter(self, entity: str, name: str) -> Callable[[int], Any]:
        """A function id -> internal value of one field (for filters and ordering)."""
        if schema.is_lookup(entity):
            return _lookup_getter(entity, name)
        table = self.tables[entity]
        f = table.fields[name]
        rows = table.rows
        if f.source == ID:
            return lambda rid: rid
        # A deleted record that others still point at (an inventory's location) reads as
        # null through those relations, as a chain filter on it would in a WMS.
        if f.source in (PARENT, SEQ, CREATE_TS, MOD_TS):
            attr = f.source
            return lambda rid: None if (row := rows.get(rid)) is None else getattr(row, attr)
        if f.source == GEN:
            tsalt, fsalt, gen, fname = table.salt, f.salt, self._gens[entity, name], f.name

            def value(rid: int) -> Any:
                row = rows.get(rid)
                if row is None:
                    return None
                if row.changes and fname in row.changes:
                    return row.changes[fname]
                return gen(field_hash(mix64(tsalt + rid), fsalt), row)

            return value
        raise KeyError(name)  # *_set fields are links, not values

    def _key_function(self, entity: str) -> Callable[[int], str | None]:
        """id -> the `key` of a related-field object pointing at `entity`."""
        if entity in schema.LOOKUP_TABLES:
            return schema.LOOKUP_TABLES[entity].get
        if schema.is_lookup(entity):
            return lambda rid: schema.lookup_key(entity, rid)
        if entity in schema.KEY_FIELD:
            return self.getter(entity, schema.KEY_FIELD[entity])
        if entity == "order_dtl":
            rows, order_key = self.tables["order_dtl"].rows, self._key_function("order_hdr")
            return lambda rid: f"{order_key(rows[rid].parent)}-{rows[rid].seq}"
        return str

    def _render_plan(self, table: Table) -> list[tuple]:
        """Per field: (name, source, generator, salt, how to serve, url path, key fn)."""
        plan = []
        for f in table.fields.values():
            serve = _SERVE.get(f.type, _PLAIN)
            if f.is_set or (serve == _RELATION and f.target is None):
                serve = _PLAIN  # links are built apart; status_id is a bare integer
            key_fn = self._key_function(f.target) if serve == _RELATION else None
            # Relations to entities this API does not expose get a blank url.
            path = f"/entity/{f.target}/" if f.target in self.tables else None
            if f.source == CHILDREN:
                path = f"{path}?{schema.PARENT_FIELD[f.target]}="
            gen = self._gens.get((table.entity, f.name))
            plan.append((f.name, f.source, gen, f.salt, serve, path, key_fn))
        return plan

    def render(
        self, entity: str, ids: list[int], api_root: str, only: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """Records exactly as lgfapi serves them, built column by column (a page at a time
        costs one dispatch per field instead of one per field and record)."""
        table = self.tables[entity]
        rows = [table.rows[rid] for rid in ids]
        hashed = [(mix64(table.salt + rid), row) for rid, row in zip(ids, rows, strict=True)]
        plan = self._plans[entity]
        if only is not None:
            wanted = set(only)
            plan = [step for step in plan if step[0] in wanted]
        columns = []
        for name, src, gen, salt, serve, path, key_fn in plan:
            if src == GEN:
                col = [
                    ch[name]
                    if (ch := row.changes) and name in ch
                    else gen(field_hash(base, salt), row)
                    for base, row in hashed
                ]
            elif src == ID:
                col = ids
            elif src == CHILDREN:
                col = [
                    {
                        "result_count": len(table.children.get(rid, ())),
                        "url": f"{api_root}{path}{rid}",
                    }
                    for rid in ids
                ]
            elif src == NO_SET:  # a link this simulator does not model
                col = [None] * len(ids)
            else:  # stored on the row: mod_ts, create_ts, parent, seq
                col = [getattr(row, src) for row in rows]
            if serve == _DATETIME:
                col = [None if v is None else format_us(v) for v in col]
            elif serve == _DATE:
                col = [None if v is None else v.isoformat() for v in col]
            elif serve == _RELATION:
                col = [
                    None
                    if v is None
                    else {"id": v, "key": key_fn(v), "url": f"{api_root}{path}{v}" if path else ""}
                    for v in col
                ]
            columns.append(col)
        names = [step[0] for step in plan]
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]

    # --- mutations -------------------------------------------------------------------------

    def modify(
        self,
        entity: str,
        ids: Iterable[int] | None = None,
        count: int | None = None,
        changes: dict[str, Any] | None = None,
        mod_ts: Any = None,
    ) -> list[int]:
        """Set mod_ts (one transaction: one timestamp) and optional field changes."""
        with self.lock:
            table = self.tables[entity]
            chosen = self._existing(table, ids) if ids is not None else self._sample(table, count)
            coerced = {k: coerce_value(table.fields, k, v) for k, v in (changes or {}).items()}
            coerced.setdefault("mod_user", SIM_USER)
            for rid in chosen:
                row = table.rows[rid]
                row.changes = {**(row.changes or {}), **coerced}
            self._restamp(table, chosen, now_us() if mod_ts is None else to_ts(mod_ts))
            return chosen

    def set_mod_ts(self, entity: str, ids: Iterable[int], ts: Any) -> None:
        with self.lock:
            table = self.tables[entity]
            self._restamp(table, self._existing(table, ids), to_ts(ts))

    def insert(self, entity: str, mod_ts: Any = None, **fields: Any) -> int:
        """Insert one record; a past mod_ts models a transaction that commits late."""
        with self.lock:
            table = self.tables[entity]
            parent_field = schema.PARENT_FIELD.get(entity)
            parent = fields.pop(parent_field, None) if parent_field else None
            if parent_field:
                parent = self._parent_id(entity, parent)
            now = now_us()
            stamp = now if mod_ts is None else to_ts(mod_ts)
            changes = {k: coerce_value(table.fields, k, v) for k, v in fields.items()}
            rid = table.next_id
            table.next_id += 1
            seq = 0
            if parent is not None:
                siblings = self._children_list(PARENT_OF[entity], parent)
                seq = max((table.rows[s].seq for s in siblings), default=0) + 1
                siblings.append(rid)
            table.rows[rid] = Row(rid, parent, seq, min(now, stamp), stamp, changes or None)
            table.ids.append(rid)
            bisect.insort(table.index, (stamp, rid))
            self.version += 1
            return rid

    def insert_order(
        self, details: int = 2, allocations_per_detail: int = 1, mod_ts: Any = None
    ) -> dict[str, list[int]]:
        """A new order with its details and allocations, all in one transaction."""
        with self.lock:
            stamp = now_us() if mod_ts is None else to_ts(mod_ts)
            out: dict[str, list[int]] = {"order_hdr": [], "order_dtl": [], "allocation": []}
            order = self.insert("order_hdr", mod_ts=stamp)
            out["order_hdr"].append(order)
            for _ in range(details):
                dtl = self.insert("order_dtl", mod_ts=stamp, order_id=order)
                out["order_dtl"].append(dtl)
                for _ in range(allocations_per_detail):
                    out["allocation"].append(
                        self.insert("allocation", mod_ts=stamp, order_dtl_id=dtl)
                    )
            return out

    def delete(self, entity: str, ids: Iterable[int]) -> dict[str, list[int]]:
        """Delete records and, to stay consistent, their children. Returns what went."""
        with self.lock:
            table = self.tables[entity]
            gone: dict[str, list[int]] = {}
            for rid in self._existing(table, ids):
                self._delete_one(entity, rid, gone)
            self.version += 1
            return gone

    def sample_ids(self, entity: str, count: int) -> list[int]:
        with self.lock:
            return self._sample(self.tables[entity], count)

    def _delete_one(self, entity: str, rid: int, gone: dict[str, list[int]]) -> None:
        table = self.tables[entity]
        child = schema.CHILD_OF.get(entity)
        for kid in table.children.pop(rid, []):
            self._delete_one(child, kid, gone)
        row = table.rows.pop(rid)
        del table.ids[bisect.bisect_left(table.ids, rid)]
        del table.index[bisect.bisect_left(table.index, (row.mod_ts, rid))]
        parents = self.tables[PARENT_OF[entity]] if row.parent is not None else None
        if parents is not None and row.parent in parents.children:  # else: deleted with it
            self._children_list(parents.entity, row.parent).remove(rid)
        gone.setdefault(entity, []).append(rid)

    def _children_list(self, entity: str, rid: int) -> list[int]:
        """The mutable child list of one record (generated ones start as ranges)."""
        children = self.tables[entity].children
        kids = children.get(rid)
        if not isinstance(kids, list):
            kids = children[rid] = list(kids or ())
        return kids

    def _restamp(self, table: Table, ids: list[int], stamp: int) -> None:
        if len(ids) * 20 > len(table.rows):
            for rid in ids:
                table.rows[rid].mod_ts = stamp
            table.rebuild_index()
        else:
            for rid in ids:
                row = table.rows[rid]
                del table.index[bisect.bisect_left(table.index, (row.mod_ts, rid))]
                row.mod_ts = stamp
                bisect.insort(table.index, (stamp, rid))
        self.version += 1

    def _existing(self, table: Table, ids: Iterable[int]) -> list[int]:
        ids = [int(i) for i in ids]
        missing = [i for i in ids if i not in table.rows]
        if missing:
            raise KeyError(f"{table.entity}: no record with id {missing[:10]}")
        return ids

    def _sample(self, table: Table, count: int | None) -> list[int]:
        if count is None:
            raise ValueError("give ids or count")
        return sorted(self._rng.sample(list(table.rows), min(count, len(table.rows))))

    def _parent_id(self, entity: str, parent: Any) -> int:
        parents = self.tables[PARENT_OF[entity]]
        if parent is None:  # attach to the newest parent
            if not parents.rows:
                raise ValueError(f"{entity}: no {parents.entity} to attach to")
            return next(reversed(parents.rows))
        if isinstance(parent, dict):
            parent = parent["id"]
        if int(parent) not in parents.rows:
            raise KeyError(f"{entity}: {parents.entity} {parent} does not exist")
        return int(parent)


def _sizes(
    orders: int, details_per_order: int, allocations_per_detail: int, counts: dict[str, int]
) -> dict[str, int]:
    sizes = default_counts(orders, details_per_order, allocations_per_detail)
    for name, count in counts.items():
        if name not in sizes:
            raise KeyError(f"unknown entity {name!r} in counts")
        if name in PARENT_OF or name in schema.FIXED_IDS:
            raise ValueError(f"counts: {name} follows its header or is a fixed code table")
        if count < 1:
            raise ValueError(f"counts: {name} needs at least one record")
        sizes[name] = count
    for child, parent in PARENT_OF.items():
        if child not in ("order_dtl", "allocation"):  # lines follow a resized header
            sizes[child] = sizes[parent] * _LINES_PER_HEADER
    return sizes


def _seed_timestamps(rng: random.Random, n: int, end: int, span: int) -> list[int]:
    """mod_ts values spread over the span, with bursts that share one exact timestamp
    (a batch job) or one second (a busy second), and some on a whole second."""
    out: list[int] = []
    while len(out) < n:
        r = rng.random()
        ts = end - 1 - int(rng.random() * span)
        if r < 0.002:
            out.extend([ts] * rng.randint(20, 300))
        elif r < 0.004:
            second = ts - ts % US_PER_SECOND
            out.extend(second + rng.randrange(US_PER_SECOND) for _ in range(rng.randint(5, 50)))
        else:
            out.append(ts - ts % US_PER_SECOND if r > 0.98 else ts)
    del out[n:]
    if n >= 10:  # small data sets get one exact-timestamp burst too
        mid, size = n // 2, max(5, n // 20)
        out[mid : mid + size] = [out[mid]] * len(out[mid : mid + size])
    return out


def _lookup_getter(entity: str, name: str) -> Callable[[int], Any]:
    if name == "id":
        return lambda rid: rid
    if name in ("code", "name"):
        return lambda rid: schema.lookup_key(entity, rid)
    raise KeyError(name)


def to_ts(value: Any) -> int:
    """datetime, ISO string or epoch microseconds -> epoch microseconds."""
    if isinstance(value, datetime):
        return to_us(value)
    if isinstance(value, str):
        return parse_datetime_value(value, allow_subsecond=True)
    if isinstance(value, int):
        return value
    raise TypeError(f"not a timestamp: {value!r}")


def coerce_value(fields: dict[str, Field], name: str, value: Any) -> Any:
    """A field change from the test API or an admin call -> the internal representation."""
    f = fields.get(name)
    if f is None:
        raise KeyError(f"unknown field {name!r}")
    if f.source != GEN:
        raise ValueError(f"field {name!r} cannot be changed this way")
    if value is None:
        return None
    if f.type == "datetime":
        return to_ts(value)
    if f.type == "date":
        return value if isinstance(value, date) else date.fromisoformat(value)
    if f.type == "relation":
        return int(value["id"] if isinstance(value, dict) else value)
    if f.type == "decimal":
        return float(value)
    if f.type == "integer":
        return int(value)
    if f.type == "boolean":
        return bool(value)
    return str(value)
