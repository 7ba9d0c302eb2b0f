"""The private singer-sdk surface the target relies on is exactly what sdk_hooks lists, and the
installed singer-sdk still has it as we know it (an upgrade that changes one fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import singer_sdk
import target_gruponos_oracle
from target_gruponos_oracle.sdk_hooks import HOOKS, Hook

SDK_SOURCES = list(Path(singer_sdk.__file__).parent.rglob("*.py"))
OUR_SOURCES = list(Path(target_gruponos_oracle.__file__).parent.rglob("*.py"))


def _sdk_private_names() -> set[str]:
    """Private methods and attributes singer-sdk's classes define or set."""
    names: set[str] = set()
    for path in SDK_SOURCES:
        text = path.read_text()
        names |= set(re.findall(r"^\s+def (_[a-z]\w*)", text, re.M))
        names |= set(re.findall(r"self\.(_[a-z]\w*)\s*[:=]", text))
        names |= set(re.findall(r"^\s+(_[a-z]\w*)\s*[:=]", text, re.M))
    return names


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.name)
def test_each_private_sdk_hook_is_still_there_as_the_target_uses_it(hook: Hook):
    assert hook.problem() is None, hook.problem()


def test_the_target_uses_no_private_sdk_member_that_sdk_hooks_does_not_list():
    private = _sdk_private_names()
    used: dict[str, set[str]] = {}
    for path in OUR_SOURCES:
        text = path.read_text()
        for name in re.findall(r"\.(_[a-z]\w*)\b", text) + re.findall(
            r"^\s+def (_[a-z]\w*)", text, re.M
        ):
            if name in private:
                used.setdefault(name, set()).add(path.name)

    unlisted = {name: files for name, files in used.items() if name not in {h.name for h in HOOKS}}
    assert not unlisted, f"private singer-sdk members used but not in sdk_hooks.HOOKS: {unlisted}"


def test_a_changed_signature_is_reported_with_the_reason_for_the_hook():
    hook = Hook(singer_sdk.Target, "_handle_max_record_age", "(self, minutes)", "the reason")

    assert hook.problem() == (
        "singer-sdk changed Target._handle_max_record_age(self, minutes) to "
        "Target._handle_max_record_age(self) -> 'None'; re-check our use (needed: the reason)"
    )
