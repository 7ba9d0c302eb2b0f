"""singer-sdk's standard target tests, against SQLite."""

from __future__ import annotations

from singer_sdk.testing import get_target_test_class
from target_gruponos_oracle.target import TargetGruponosOracle

StandardTargetTests = get_target_test_class(
    TargetGruponosOracle,
    config={"sqlalchemy_url": "sqlite://"},  # in-memory database, fresh per target instance
)


class TestTargetGruponosOracleStandard(StandardTargetTests):  # type: ignore[misc,valid-type]
    """The SDK's suite: schema updates, duplicates, special characters, bad input..."""
