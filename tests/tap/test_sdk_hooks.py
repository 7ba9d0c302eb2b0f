"""The private singer-sdk surface the tap relies on is exactly what sdk_hooks lists, and the
installed singer-sdk still has it as we know it (an upgrade that changes one fails here)."""

from __future__ import annotations

import pytest
import tap_gruponos_wms
from sdk_fence import hook_problem, unlisted_private_uses
from tap_gruponos_wms.sdk_hooks import HOOKS, Hook


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.name)
def test_each_private_sdk_hook_is_still_there_as_the_tap_uses_it(hook: Hook):
    assert hook_problem(hook) is None, hook_problem(hook)


def test_the_tap_uses_no_private_sdk_member_that_sdk_hooks_does_not_list():
    unlisted = unlisted_private_uses(tap_gruponos_wms, HOOKS)

    assert not unlisted, f"private singer-sdk members used but not in sdk_hooks.HOOKS: {unlisted}"
