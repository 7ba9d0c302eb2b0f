"""singer-sdk's standard tap tests (discovery, sync, schema/record conformance) against
the simulator. The SDK builds the test class at import, so the server starts here too."""

from __future__ import annotations

import atexit

from singer_sdk.testing import get_tap_test_class
from tap_gruponos_wms.tap import TapGruponosWms
from wms_simulator import WmsSimulator

_SIM = WmsSimulator(orders=10, details_per_order=2, allocations_per_detail=1, seed=11).start()
atexit.register(_SIM.stop)

TestTapGruponosWms = get_tap_test_class(
    TapGruponosWms,
    config={
        "base_url": _SIM.base_url,
        "username": "wms_user",
        "password": "wms_pass",
        "page_size": 7,
    },
)
