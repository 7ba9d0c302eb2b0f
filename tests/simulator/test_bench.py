"""The benchmark script runs end to end (its figures come from a large run by hand)."""

from __future__ import annotations

import pytest
from wms_simulator import bench


def test_benchmark_prints_generation_latency_and_read_rates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.main(["--details", "2000", "--repeat", "1", "--page-size", "500"]) == 0
    out = capsys.readouterr().out
    assert "generate {'allocation': 2000, 'order_hdr': 500, 'order_dtl': 2000, " in out
    assert "(cpu " in out
    assert "order_dtl by id keyset: 2000 records, 4 pages" in out
    assert "allocation by id keyset, facility FAC1" in out
