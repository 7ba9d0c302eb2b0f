"""Fixtures: simulators on 127.0.0.1 and a small client for their lgfapi routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from wms_simulator import WmsSimulator


class Client:
    """Basic-auth session against one simulator's v10 entity API."""

    def __init__(self, sim: WmsSimulator) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.session.auth = ("wms_user", "wms_pass")
        self.api = f"{sim.base_url}/wms/lgfapi/v10/entity"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(f"{self.api}/{path}", params=params, timeout=10)

    def results(self, entity: str, **params: Any) -> list[dict[str, Any]]:
        """Every record a paged read returns, following next_page."""
        response = self.get(f"{entity}/", **params)
        out: list[dict[str, Any]] = []
        while True:
            response.raise_for_status()
            body = response.json()
            out.extend(body["results"])
            if not body["next_page"]:
                return out
            response = self.session.get(body["next_page"], timeout=10)


@pytest.fixture(scope="module")
def sim() -> Iterator[WmsSimulator]:
    """Shared, read-only: 50 orders, 150 details, 150 allocations."""
    with WmsSimulator(orders=50, details_per_order=3, allocations_per_detail=1, seed=7) as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[WmsSimulator]:
    """A small simulator a test may change."""
    with WmsSimulator(orders=10, details_per_order=2, allocations_per_detail=1, seed=3) as s:
        yield s


@pytest.fixture(scope="module")
def client(sim: WmsSimulator) -> Client:
    return Client(sim)


@pytest.fixture
def fresh_client(fresh_sim: WmsSimulator) -> Client:
    return Client(fresh_sim)
