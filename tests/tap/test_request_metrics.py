"""Every request the tap sends is logged as singer-sdk's http_request_duration metric, as the
SDK's own request path does (the tap sends requests itself, so it writes the metric itself)."""

from __future__ import annotations

import logging

from wms_simulator import Fault


def test_every_request_logs_the_sdk_http_request_duration_metric(
    sim, sim_config, run_tap, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    sim.add_faults(Fault(status=503, times=1, entity="order_hdr"))

    run_tap(sim_config, streams=["order_headers"])

    points = [
        record.args[0]
        for record in caplog.records
        if record.name == "singer_sdk.metrics" and "http_request_duration" in record.getMessage()
    ]
    headers = [point for point in points if point.tags["stream"] == "order_headers"]
    statuses = [point.tags["http_status_code"] for point in headers]
    assert 503 in statuses and statuses.count(200) >= 2  # the retried one, entity list, pages
    assert {point.tags["endpoint"] for point in headers} == {"order_hdr/"}
    assert all(point.value >= 0 for point in points)
