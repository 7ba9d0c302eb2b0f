"""A tap setting mistake under the real `meltano run`: one clear line, no traceback."""

from __future__ import annotations

import pytest
from conftest import MELTANO, Pipeline, run

pytestmark = pytest.mark.e2e


def test_missing_base_url_under_meltano_run_is_one_line_naming_it(pipeline: Pipeline) -> None:
    env = pipeline.env(
        MELTANO_ENVIRONMENT="prod",  # no base_url there, as in production without the variable
        TAP_GRUPONOS_WMS_USERNAME="wms_user",
        TAP_GRUPONOS_WMS_PASSWORD="wms_pass",
    )
    del env["TAP_GRUPONOS_WMS_BASE_URL"]

    failed = run([MELTANO, "run", "incremental-sync"], env=env, check=False, timeout=600)

    log = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "setting base_url is missing" in log
    assert "KeyError" not in log
    assert "Traceback" not in log
    assert "wms_pass" not in log
