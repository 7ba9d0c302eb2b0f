"""Tests of target-gruponos-oracle."""
