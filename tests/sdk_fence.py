"""Checks for the plugins' sdk_hooks modules, shared by tests/target and tests/tap.

Each plugin lists, in ``<package>/sdk_hooks.py``, the private singer-sdk members it overrides
or uses, with why. These checks fail loudly when the installed singer-sdk no longer has one as
listed (gone, other signature, no longer called where our override needs it), and when a
plugin uses a private singer-sdk member its list does not name.
"""

from __future__ import annotations

import inspect
import re
import typing as t
from pathlib import Path

import singer_sdk


def hook_problem(hook: t.Any) -> str | None:
    """What changed in the installed singer-sdk for ``hook``, or None if it is as listed."""
    owner, name, why = hook.owner, hook.name, hook.why
    where = f"{owner.__name__}.{name}"
    member = inspect.getattr_static(owner, name, None)
    if member is None:
        # an instance attribute: the SDK class must still set it
        if not re.search(rf"self\.{name}\s*[:=]", inspect.getsource(owner)):
            return f"singer-sdk no longer has {where} (needed: {why})"
    elif hook.signature is not None:
        found = str(inspect.signature(getattr(owner, name)))
        if found != hook.signature:
            return (
                f"singer-sdk changed {where}{hook.signature} to {where}{found}; "
                f"re-check our use (needed: {why})"
            )
    if hook.called_from is not None:
        cls, method = hook.called_from
        if f".{name}" not in inspect.getsource(getattr(cls, method)):
            return (
                f"singer-sdk's {cls.__name__}.{method} no longer uses {where}, "
                f"so our code is bypassed (needed: {why})"
            )
    return None


def _sdk_private_names() -> set[str]:
    """Private methods and attributes singer-sdk's classes define or set."""
    names: set[str] = set()
    for path in Path(singer_sdk.__file__).parent.rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"^\s+def (_[a-z]\w*)", text, re.M))
        names |= set(re.findall(r"self\.(_[a-z]\w*)\s*[:=]", text))
        names |= set(re.findall(r"^\s+(_[a-z]\w*)\s*[:=]", text, re.M))
    return names


def unlisted_private_uses(package: t.Any, hooks: t.Iterable[t.Any]) -> dict[str, set[str]]:
    """Private singer-sdk names ``package``'s modules use or override that ``hooks`` omit,
    with the files using them."""
    private = _sdk_private_names() - {hook.name for hook in hooks}
    used: dict[str, set[str]] = {}
    for path in Path(package.__file__).parent.rglob("*.py"):
        text = path.read_text()
        names = re.findall(r"\.(_[a-z]\w*)\b", text) + re.findall(
            r"^\s+def (_[a-z]\w*)", text, re.M
        )
        for name in set(names) & private:
            used.setdefault(name, set()).add(path.name)
    return used
