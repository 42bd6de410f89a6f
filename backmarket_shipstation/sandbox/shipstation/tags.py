"""The ShipStation simulator's account tags (shipstation.md A.4): list and create.

``POST /accounts/createtag`` takes ``{name, color}`` and answers the new tag
``{tagId, name, color}``: the V1 body is not spelled out in our sources, so this follows the
tag model of ``listtags`` (INFERRED; docs/sandbox-shipstation.md). A second tag of the same
name (in any case) is refused.
"""

from __future__ import annotations

import re
from typing import Any

from ._core import SimulatorCore
from ._records import _bad_request, _invalid, _Request

_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class TagsResource(SimulatorCore):
    """Account tags: list and create."""

    _tags: list[dict[str, Any]]

    def _list_tags(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(t) for t in self._tags]

    def _create_tag(self, req: _Request) -> dict[str, Any]:
        body = req.json("tag")
        if not isinstance(body, dict):
            raise _invalid("tag", "The request body must be a JSON object.")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _invalid("tag.name", "The name field is required.")
        color = body.get("color")
        if color is not None and (not isinstance(color, str) or not _COLOUR.match(color)):
            raise _invalid("tag.color", "color must be a hex colour such as #FF0000.")
        if any(t["name"].casefold() == name.strip().casefold() for t in self._tags):
            raise _bad_request(f"A tag named {name.strip()} already exists.")
        tag = {"tagId": self._take("tag"), "name": name.strip(), "color": color or "#CCCCCC"}
        self._tags.append(tag)
        return dict(tag)

    def _known_tag(self, tag_id: object) -> bool:
        return any(t["tagId"] == tag_id for t in self._tags)
