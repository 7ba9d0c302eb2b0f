"""List queries: lgfapi's filter, ordering, fields and paging parameters, parsed and evaluated.

`mod_ts` and `id` comparisons become bounds on the table's sorted keys (bisect + slice); other
filters are predicates over record ids, evaluated on the candidate slice or, for wide slices,
once per table and data version into a cached match set.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from . import schema
from .clock import from_us, parse_date_value, parse_datetime_value
from .store import DataStore

MAX_PAGE_SIZE = 1250
DEFAULT_PAGE_SIZE = 100
CONTROL_PARAMS = {"page", "page_size", "page_mode", "cursor", "ordering", "fields", "format"}
_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _as_datetime(value: int | date) -> datetime:
    """Internal date-time (epoch microseconds) or date -> datetime in facility time."""
    return from_us(value) if isinstance(value, int) else datetime.combine(value, time())


_TRANSFORMS: dict[str, Callable[[Any], int]] = {
    "year": lambda v: _as_datetime(v).year,
    "month": lambda v: _as_datetime(v).month,
    "day": lambda v: _as_datetime(v).day,
    "hour": lambda v: _as_datetime(v).hour,
    "minute": lambda v: _as_datetime(v).minute,
    "week_day": lambda v: _as_datetime(v).isoweekday() % 7 + 1,  # 1 = Sunday, as Django
}
LOOKUPS = {
    "exact",
    "iexact",
    "contains",
    "icontains",
    "startswith",
    "endswith",
    "in",
    "range",
    "isnull",
    *_COMPARE,
}


class QueryError(ValueError):
    """A request parameter lgfapi would reject with 400; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


Predicate = Callable[[int], bool]
Bounds = tuple[int | None, int | None]  # [lo, hi)
# Comparisons that become bounds on a sorted key (mod_ts index, id list).
_BOUND_LOOKUPS = ("exact", "gt", "gte", "lt", "lte", "range")


@dataclass
class ListQuery:
    entity: str
    # Filters other than bounds: (cache key, predicate); their matches are cached per version.
    predicates: list[tuple[tuple, Predicate]] = field(default_factory=list)
    ts_bounds: Bounds = (None, None)  # mod_ts, epoch microseconds
    id_bounds: Bounds = (None, None)
    ordering: list[tuple[str, bool]] = field(default_factory=list)  # (chain, descending)
    fields: list[str] | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    page: int = 1
    sequenced: bool = False
    offset: int = 0  # sequenced mode: from the cursor
    cache_key: tuple = ()


def parse(
    store: DataStore,
    entity: str,
    params: list[tuple[str, str]],
    decode_cursor: Callable[[str], int],
) -> ListQuery:
    q = ListQuery(entity)
    filters: list[tuple[str, str]] = []
    for key, value in params:
        if key in CONTROL_PARAMS:
            _parse_control(q, key, value, decode_cursor)
        else:
            filters.append((key, value))
            _add_filter(store, q, key, value)
    q.cache_key = (entity, tuple(sorted(filters)), tuple(q.ordering))
    return q


def _parse_control(q: ListQuery, key: str, value: str, decode_cursor: Callable[[str], int]) -> None:
    if key == "page_size":
        q.page_size = _positive_int(key, value)
        if q.page_size > MAX_PAGE_SIZE:
            raise QueryError(key, f"page_size {q.page_size} exceeds the maximum {MAX_PAGE_SIZE}")
    elif key == "page":
        q.page = _positive_int(key, value)
    elif key == "page_mode":
        if value not in ("paged", "sequenced"):
            raise QueryError(key, f"page_mode must be 'paged' or 'sequenced', not {value!r}")
        q.sequenced = value == "sequenced"
    elif key == "cursor":
        try:
            q.offset = decode_cursor(value)
        except ValueError:
            raise QueryError(key, "invalid cursor") from None
    elif key == "ordering":
        q.ordering = [_parse_ordering(q.entity, part) for part in value.split(",") if part]
    elif key == "fields":
        names = [n for n in value.split(",") if n]
        unknown = [n for n in names if n not in schema.FIELDS[q.entity]]
        if unknown:
            raise QueryError(key, f"unknown field(s) {','.join(unknown)} for {q.entity}")
        q.fields = names


def _positive_int(key: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QueryError(key, f"{key} must be an integer, not {value!r}") from None
    if number < 1:
        raise QueryError(key, f"{key} must be at least 1")
    return number


def _parse_ordering(entity: str, part: str) -> tuple[str, bool]:
    desc = part.startswith("-")
    chain = part.lstrip("-")
    _, rest = _resolve_chain(entity, chain.split("__"), "ordering")
    if rest:
        raise QueryError("ordering", f"cannot order {entity} by {chain!r}")
    return chain, desc


def _resolve_chain(
    entity: str, parts: list[str], param: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Walk `a__b__c` through relations: ([(entity, field), ...], leftover lookup parts)."""
    steps: list[tuple[str, str]] = []
    current: str | None = entity
    i = 0
    while i < len(parts) and current is not None:
        name = parts[i]
        if schema.is_lookup(current):
            if name not in schema.LOOKUP_FIELDS:
                break
            steps.append((current, name))
            current = None
        else:
            f = schema.FIELDS[current].get(name)
            if f is None or f.is_set:
                break
            steps.append((current, name))
            current = f.target
        i += 1
    if not steps:
        raise QueryError(param, f"{entity} has no field {parts[0]!r}")
    return steps, parts[i:]


def _chain_getter(store: DataStore, steps: list[tuple[str, str]]) -> Callable[[int], Any]:
    """id -> value at the end of a relation chain. Past the first step, results are memoised
    per related id (many allocations share an order); a getter lives for one request, which
    runs under the store lock, so the data cannot change underneath the memo."""
    first, *rest = [store.getter(ent, name) for ent, name in steps]
    if not rest:
        return first
    rest = [functools.cache(g) for g in rest]

    def value(rid: int) -> Any:
        v: Any = first(rid)
        for g in rest:
            if v is None:
                return None
            v = g(v)
        return v

    return value


def _field_type(steps: list[tuple[str, str]]) -> str:
    ent, name = steps[-1]
    if schema.is_lookup(ent):
        return "integer" if name == "id" else "varchar"
    f = schema.FIELDS[ent][name]
    return "integer" if f.type in ("relation", "pk") else f.type


def _add_filter(store: DataStore, q: ListQuery, key: str, raw: str) -> None:
    negate = key.endswith("!")
    parts = key.rstrip("!").split("__")
    steps, rest = _resolve_chain(q.entity, parts, key)
    transform = _TRANSFORMS.get(rest[0]) if rest else None
    if transform is not None:
        rest = rest[1:]
    if len(rest) > 1 or (rest and rest[0] not in LOOKUPS):
        raise QueryError(key, f"unknown filter {key!r} on {q.entity}")
    lookup = rest[0] if rest else "exact"
    ftype = "integer" if transform else _field_type(steps)
    if transform and _field_type(steps) not in ("datetime", "date"):
        raise QueryError(key, f"{parts[len(steps)]!r} applies to date-times only")
    bounded = (
        {(q.entity, "mod_ts"): "ts_bounds", (q.entity, "id"): "id_bounds"}.get(steps[0])
        if len(steps) == 1
        else None
    )
    if bounded and not negate and transform is None and lookup in _BOUND_LOOKUPS:
        setattr(q, bounded, _narrow(getattr(q, bounded), key, lookup, raw, ftype))
        return
    getter = _chain_getter(store, steps)
    if transform is not None:
        inner = getter
        getter = lambda rid: None if (v := inner(rid)) is None else transform(v)  # noqa: E731
    test = _make_test(key, lookup, raw, ftype)
    if negate:
        q.predicates.append(((key, raw), lambda rid: not test(getter(rid))))
    else:
        q.predicates.append(((key, raw), lambda rid: test(getter(rid))))


def _narrow(bounds: Bounds, key: str, lookup: str, raw: str, ftype: str) -> Bounds:
    """Intersect [lo, hi) bounds with one comparison (values are integers)."""
    if lookup == "range":
        a, b = _split_pair(key, raw)
        new = [(_coerce(key, a, ftype), None), (None, _coerce(key, b, ftype) + 1)]
    else:
        v = _coerce(key, raw, ftype)
        new = [
            {
                "exact": (v, v + 1),
                "gt": (v + 1, None),
                "gte": (v, None),
                "lt": (None, v),
                "lte": (None, v + 1),
            }[lookup]
        ]
    lo, hi = bounds
    for new_lo, new_hi in new:
        if new_lo is not None:
            lo = new_lo if lo is None else max(lo, new_lo)
        if new_hi is not None:
            hi = new_hi if hi is None else min(hi, new_hi)
    return lo, hi


def _make_test(key: str, lookup: str, raw: str, ftype: str) -> Callable[[Any], bool]:
    if lookup == "isnull":
        want_null = _coerce(key, raw, "boolean")
        return lambda v: (v is None) == want_null
    if lookup in ("iexact", "contains", "icontains", "startswith", "endswith"):
        return _text_test(lookup, raw)
    if lookup == "in":
        wanted = {_coerce(key, part, ftype) for part in raw.split(",")}
        return lambda v: v in wanted
    if lookup == "range":
        a, b = _split_pair(key, raw)
        lo, hi = _coerce(key, a, ftype), _coerce(key, b, ftype)
        return lambda v: v is not None and lo <= v <= hi
    if lookup == "exact" and raw.lower() == "null":
        return lambda v: v is None
    wanted = _coerce(key, raw, ftype)
    if lookup == "exact":
        return lambda v: v == wanted
    compare = _COMPARE[lookup]
    return lambda v: v is not None and compare(v, wanted)


def _text_test(lookup: str, raw: str) -> Callable[[Any], bool]:
    folded = raw.lower()
    tests: dict[str, Callable[[str], bool]] = {
        "iexact": lambda s: s.lower() == folded,
        "contains": lambda s: raw in s,
        "icontains": lambda s: folded in s.lower(),
        "startswith": lambda s: s.startswith(raw),
        "endswith": lambda s: s.endswith(raw),
    }
    test = tests[lookup]
    return lambda v: v is not None and test(str(v))


def _split_pair(key: str, raw: str) -> tuple[str, str]:
    parts = raw.split(",")
    if len(parts) != 2:
        raise QueryError(key, f"{key} needs two comma-separated values")
    return parts[0], parts[1]


def _coerce(key: str, raw: str, ftype: str) -> Any:
    try:
        if ftype == "datetime":
            return parse_datetime_value(raw, allow_subsecond=False)
        if ftype == "date":
            return parse_date_value(raw)
        if ftype in ("integer", "number"):
            return int(raw)
        if ftype == "decimal":
            return float(raw)
        if ftype == "boolean":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"'{raw}' is not a boolean (true/false)")
            return raw.lower() in ("true", "1")
    except ValueError as exc:
        message = (
            str(exc)
            if ftype in ("datetime", "date", "boolean")
            else (f"'{raw}' is not a valid {ftype}")
        )
        raise QueryError(key, message) from None
    return raw


class QueryEngine:
    """Answers parsed queries from the store's sorted keys, with two caches keyed by the data
    version: per-filter match sets (so a relation-chain filter is evaluated once per table,
    not once per page) and full result lists for orderings that need a sort."""

    def __init__(self, store: DataStore, cache_size: int = 16) -> None:
        self.store = store
        self._results: OrderedDict[tuple, list[int]] = OrderedDict()
        self._matches: OrderedDict[tuple, frozenset[int]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_version = store.version

    def page(self, q: ListQuery, start: int) -> tuple[list[int], int]:
        """(ids of the page beginning at position `start`, total matches); caller holds the
        store lock."""
        if self._cache_version != self.store.version:  # data changed: nothing cached holds
            self._results.clear()
            self._matches.clear()
            self._cache_version = self.store.version
        table = self.store.tables[q.entity]
        by_ts = q.ts_bounds != (None, None) or (bool(q.ordering) and q.ordering[0][0] == "mod_ts")
        keys: list = table.index if by_ts else table.ids
        natural = [("mod_ts", False), ("id", False)] if by_ts else [("id", False)]
        # (v,) sorts before every (v, id) tuple, so it bisects the mod_ts index like v the ids.
        lo, hi = (
            (None if v is None else (v,) if by_ts else v)
            for v in (q.ts_bounds if by_ts else q.id_bounds)
        )
        lo = 0 if lo is None else bisect.bisect_left(keys, lo)
        hi = len(keys) if hi is None else bisect.bisect_left(keys, hi)
        direction = _direction(q.ordering, natural)
        if not q.predicates and (not by_ts or q.id_bounds == (None, None)) and direction:
            # The common incremental query: a slice of a sorted key, no scan at all.
            total = max(0, hi - lo)
            if direction > 0:
                chosen = keys[lo + start : min(hi, lo + start + q.page_size)]
            else:
                chosen = keys[max(lo, hi - start - q.page_size) : max(lo, hi - start)][::-1]
            return ([k[1] for k in chosen] if by_ts else list(chosen)), total
        ids = self._cached(
            self._results,
            (q.cache_key, q.ts_bounds, q.id_bounds),
            lambda: self._filter_and_order(q, keys[lo:hi], by_ts, direction),
        )
        return ids[start : start + q.page_size], len(ids)

    def _filter_and_order(self, q: ListQuery, keys: list, by_ts: bool, direction: int) -> list[int]:
        ids = [k[1] for k in keys] if by_ts else list(keys)
        if by_ts and q.id_bounds != (None, None):
            lo, hi = q.id_bounds
            ids = [i for i in ids if (lo is None or i >= lo) and (hi is None or i < hi)]
        table_ids = self.store.tables[q.entity].ids
        for cache_key, pred in q.predicates:
            key = (q.entity, cache_key)
            if len(ids) * 8 < len(table_ids) and key not in self._matches:
                ids = [i for i in ids if pred(i)]  # a narrow window: cheaper than a table pass
                continue
            matches = self._cached(
                self._matches, key, lambda p=pred: frozenset(rid for rid in table_ids if p(rid))
            )
            ids = [i for i in ids if i in matches]
        if direction:
            return ids if direction > 0 else ids[::-1]
        return self._sort(q, ids)

    def _cached(self, cache: OrderedDict, key: tuple, compute: Callable[[], Any]) -> Any:
        value = cache.get(key)
        if value is None:
            value = cache[key] = compute()
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return value

    def _sort(self, q: ListQuery, ids: list[int]) -> list[int]:
        if not q.ordering:
            # lgfapi applies no ordering unless asked: serve a stable order that is not by id.
            return sorted(ids, key=lambda rid: (rid * 2654435761) & 0xFFFFFFFF)
        for chain, desc in reversed(q.ordering):  # stable sorts, least significant key first
            steps, _ = _resolve_chain(q.entity, chain.split("__"), "ordering")
            getter = _chain_getter(self.store, steps)
            # Oracle: NULLs last ascending, first descending.
            ids.sort(
                key=lambda rid, g=getter: ((v := g(rid)) is None, v if v is not None else 0),
                reverse=desc,
            )
        return ids


def _direction(ordering: list[tuple[str, bool]], natural: list[tuple[str, bool]]) -> int:
    """1 if `ordering` is the candidates' own order, -1 if its reverse, else 0 (sort needed)."""
    if not ordering:
        return 0
    if ordering == natural[: len(ordering)]:
        return 1
    if [(c, not d) for c, d in ordering] == natural[: len(ordering)]:
        return -1
    return 0
