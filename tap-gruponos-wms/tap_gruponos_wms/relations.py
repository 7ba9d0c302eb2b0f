"""Which entity each relation field points at, and the shortest chain of relations from an
entity to `facility` or `company`, for narrowing a read to one facility / company code.

lgfapi's `describe` types a related field `relation` but does not name its target (no Oracle
text shows one). Two sources stand in, in this order:
1. a record: the value of a relation is `{"id", "key", "url"}` and its `url` ends in
   `/entity/{target}/{id}` (a blank `url`: the target is not an exposed entity);
2. the field's name: `X_id` -> entity `X` when the API lists `X` (`facility_id`, `item_id`).
Names alone are not enough (`order_id` points at `order_hdr`), so one record of each entity on
a chain is read (`page_size=1`); where the entity is empty or the value null, the name decides.

The chain is found breadth first, so it is the shortest; among chains of one length, a field
named exactly `facility_id` / `company_id` at the end beats others (`dest_facility_id`), and a
hop to the entity's own header (the longest common name prefix: `ib_shipment_dtl` ->
`ib_shipment`) beats one to master data (`item_id`).
"""

from __future__ import annotations

import re
import threading
import typing as t

from tap_gruponos_wms.schema import BARE_ID_FIELDS

MAX_DEPTH = 4
_URL_TARGET = re.compile(r"/entity/([^/?#]+)/[^/]+/?$")

Describe = t.Callable[[str], dict[str, t.Any]]
Sample = t.Callable[[str], dict[str, t.Any] | None]


class RelationGraph:
    """Relation targets of the listed entities, read lazily and cached for the run (streams in
    several threads share it; each entity is read once)."""

    def __init__(self, listed: t.Iterable[str], describe: Describe, sample: Sample) -> None:
        self.listed = frozenset(listed)
        self._describe = describe
        self._sample = sample
        self._targets: dict[str, dict[str, str]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def targets(self, entity: str) -> dict[str, str]:
        """Relation field -> the listed entity it points at (fields to others left out)."""
        with self._guard:
            lock = self._locks.setdefault(entity, threading.Lock())
        with lock:
            if entity not in self._targets:
                self._targets[entity] = self._read_targets(entity)
            return self._targets[entity]

    def _read_targets(self, entity: str) -> dict[str, str]:
        fields = self._describe(entity).get("fields") or {}
        record = self._sample(entity) or {}
        out: dict[str, str] = {}
        for name, meta in fields.items():
            if str(meta.get("type", "")).lower() != "relation" or name.endswith("_set"):
                continue
            if name in BARE_ID_FIELDS:
                continue
            target = target_of(name, record.get(name), self.listed)
            if target is not None:
                out[name] = target
        return out

    def chain(self, entity: str, dimension: str) -> tuple[str, ...] | None:
        """Fields leading from `entity` to `dimension` (facility, company); () for the entity
        itself; None when no chain of at most MAX_DEPTH relations reaches it."""
        if entity == dimension:
            return ()
        level: list[tuple[str, tuple[str, ...]]] = [(entity, ())]
        seen = {entity}
        for _ in range(MAX_DEPTH):
            found: list[tuple[str, ...]] = []
            following: list[tuple[str, tuple[str, ...]]] = []
            for current, path in level:
                for name, target in self._ranked(current):
                    if target == dimension:
                        found.append((*path, name))
                    elif target not in seen:
                        seen.add(target)
                        following.append((target, (*path, name)))
            if found:
                exact = [p for p in found if p[-1] == f"{dimension}_id"]
                return (exact or found)[0]
            level = following
        return None

    def _ranked(self, entity: str) -> list[tuple[str, str]]:
        """Relations of `entity`, its header first (longest common name prefix), then in
        `describe` order."""
        relations = list(self.targets(entity).items())
        return sorted(
            relations,
            key=lambda item: -_common_prefix(entity, item[1]),
        )


def target_of(field: str, value: t.Any, listed: frozenset[str]) -> str | None:
    """The listed entity a relation field points at: from the value's url, else the name."""
    url = value.get("url") if isinstance(value, dict) else None
    if isinstance(url, str):
        if not url:
            return None  # lgfapi: the target is not an exposed entity
        match = _URL_TARGET.search(url.split("?")[0])
        if match and match.group(1) in listed:
            return match.group(1)
    name = field.removesuffix("_id")
    return name if field.endswith("_id") and name in listed else None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def narrowing_filter(chain: tuple[str, ...]) -> str:
    """The lgfapi filter that narrows by code along `chain` (`order_id__facility_id__code`)."""
    return "__".join((*chain, "code"))
