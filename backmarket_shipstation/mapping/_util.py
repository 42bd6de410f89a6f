"""Small helpers shared by the mapping modules."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import attrs

T = TypeVar("T")


def replace(obj: T, **changes: Any) -> T:
    """``attrs.evolve`` for the SDK's models.

    mypy sees models through ``dataclass_transform`` rather than as attrs classes, so
    ``attrs.evolve`` does not type-check on them directly.
    """
    result: T = attrs.evolve(cast(Any, obj), **changes)
    return result


def field_names(cls: type) -> tuple[str, ...]:
    """The attrs field names of a model class, its ``extras`` excluded."""
    return tuple(f.name for f in attrs.fields(cast(Any, cls)) if f.name != "extras")
