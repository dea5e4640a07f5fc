"""What ExifTool may report of a clean file: the tags that structure and kept items produce.

ExifTool's reading is the second opinion beside the byte model. Each format handler owns the ExifTool names its
parsed structure produces (as mat2 keeps a ``meta_allowlist`` on each parser), keyed by the span labels of its
walker; each kept item (:mod:`.kept`) owns the names its canonical form produces. A file's allowlist is the union
of the lists of the structure and kept items its byte model actually holds, so a tag is accepted only when the
walker parsed the bytes that produce it; any other tag is a leftover, whatever the byte model says.

Keys are ``Group:Name`` in ExifTool's family-1 groups (``-G1``). A group or a name may end in ``#`` to stand for
any trailing number (``Track#:HandlerType`` covers ``Track1``, ``Track2`` ...; ``MPImage#:MPImage#`` the MPF
images), and a whole group may be allowed (``ICC-header``, which also covers ``ICC-header1``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[Any], bool]
"""A condition on a tag's value (e.g. a box date must be zero)."""

_NUMBER = re.compile(r"\d+$")


def numbered(text: str) -> str:
    """``text`` with its trailing number replaced by ``#`` (``Track12`` -> ``Track#``)."""
    return _NUMBER.sub("#", text)


@dataclass(frozen=True)
class Allowlist:
    """Tags a clean file may carry, with conditions on some values."""

    tags: frozenset[str] = frozenset()
    """``Group:Name`` keys (``#`` for a trailing number)."""
    groups: frozenset[str] = frozenset()
    """Whole groups, without their trailing number (``ICC-header`` also covers ``ICC-header1``)."""
    checks: Mapping[str, Check] = field(default_factory=dict)
    """Conditions on the value of some keys of :attr:`tags`."""

    @classmethod
    def of(cls, group: str, names: Iterable[str], checks: Mapping[str, Check] | None = None) -> Allowlist:
        """The names of one group; ``checks`` by name."""
        return cls(
            tags=frozenset(f"{group}:{name}" for name in names),
            checks={f"{group}:{name}": check for name, check in (checks or {}).items()},
        )

    def __or__(self, other: Allowlist) -> Allowlist:
        return Allowlist(self.tags | other.tags, self.groups | other.groups, {**self.checks, **other.checks})

    @staticmethod
    def union(lists: Iterable[Allowlist]) -> Allowlist:
        merged = Allowlist()
        for item in lists:
            merged |= item
        return merged

    def allows(self, group: str, name: str, value: Any) -> bool:
        """True when the tag ``group:name`` with ``value`` is on the list and its value passes its check."""
        for key in _keys(group, name):
            if key in self.tags:
                check = self.checks.get(key)
                return check is None or check(value)
        return group in self.groups or _NUMBER.sub("", group) in self.groups


def _keys(group: str, name: str) -> tuple[str, ...]:
    base, short = numbered(group), numbered(name)
    return tuple(dict.fromkeys((f"{group}:{name}", f"{base}:{name}", f"{group}:{short}", f"{base}:{short}")))


EMPTY = Allowlist()
