"""The private singer-sdk surface the target relies on is exactly what sdk_hooks lists, and the
installed singer-sdk still has it as we know it (an upgrade that changes one fails here)."""

from __future__ import annotations

import pytest
import singer_sdk
import target_gruponos_oracle
from sdk_fence import hook_problem, unlisted_private_uses
from target_gruponos_oracle.sdk_hooks import HOOKS, Hook


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.name)
def test_each_private_sdk_hook_is_still_there_as_the_target_uses_it(hook: Hook):
    assert hook_problem(hook) is None, hook_problem(hook)


def test_the_target_uses_no_private_sdk_member_that_sdk_hooks_does_not_list():
    unlisted = unlisted_private_uses(target_gruponos_oracle, HOOKS)

    assert not unlisted, f"private singer-sdk members used but not in sdk_hooks.HOOKS: {unlisted}"


def test_a_changed_signature_is_reported_with_the_reason_for_the_hook():
    hook = Hook(singer_sdk.Target, "_handle_max_record_age", "(self, minutes)", "the reason")

    assert hook_problem(hook) == (
        "singer-sdk changed Target._handle_max_record_age(self, minutes) to "
        "Target._handle_max_record_age(self) -> 'None'; re-check our use (needed: the reason)"
    )
