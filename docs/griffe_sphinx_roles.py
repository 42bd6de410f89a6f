"""A griffe extension for the API reference: the reStructuredText in docstrings as Markdown.

The package's docstrings are written in reStructuredText, and mkdocstrings renders Markdown,
where some of it would show as raw text. This rewrites, before rendering:

- cross-reference roles (``:class:`~pkg.mod.Name```, ``:func:`name```...) as optional
  autorefs: a link when the target is on a reference page, plain code otherwise (optional
  references never fail ``mkdocs build --strict``). Relative names are looked up from the
  object outwards: its class, its module, the package;
- simple tables (``=====  =====`` borders) as Markdown tables;
- doctest blocks (``>>>`` lines and their output) as ``pycon`` code blocks;
- ``Text::`` before an indented literal block as ``Text:`` (the block is already Markdown code).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|exc|obj|mod|const):`(?P<target>[^`]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx cross-reference roles as mkdocs-autorefs references."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            docstring = obj.docstring
            if docstring is not None:
                text = ROLE.sub(partial(_autoref, pkg, obj), docstring.value)
                docstring.value = _literal_markers(_doctests(_tables(text)))


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias and member.parent is obj:
            assert isinstance(member, griffe.Object)
            found.extend(_walk(member))
    return found


def _autoref(pkg: griffe.Module, obj: griffe.Object, match: re.Match[str]) -> str:
    target = match["target"].strip()
    short = target.startswith("~")
    target = target.lstrip("~.").removesuffix("()")
    display = target.rsplit(".", 1)[-1] if short else target
    identifier = _resolve(pkg, obj, target) or target
    return f'<autoref identifier="{identifier}" optional><code>{display}</code></autoref>'


def _resolve(pkg: griffe.Module, obj: griffe.Object, target: str) -> str | None:
    """The full path of ``target`` seen from ``obj``, if it names a member of the package."""
    scopes: list[griffe.Object] = []
    scope: griffe.Object | None = obj
    while scope is not None:
        scopes.append(scope)
        scope = scope.parent
    candidates = [f"{scope.path}.{target}" for scope in scopes] + [target]
    for candidate in candidates:
        if candidate == pkg.path or candidate.startswith(f"{pkg.path}."):
            inner = candidate.removeprefix(f"{pkg.path}").lstrip(".")
            try:
                if not inner or pkg[inner] is not None:
                    return candidate
            except (KeyError, ValueError, griffe.AliasResolutionError):
                continue
    return None


BORDER = re.compile(r"^=+( +=+)+ *$")


def _tables(text: str) -> str:
    """RST simple tables (border, header, border, rows, border) as Markdown tables."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not BORDER.match(line):
            out.append(line)
            index += 1
            continue
        spans = [(m.start(), m.end()) for m in re.finditer(r"=+", line)]
        rows: list[list[str]] = []
        borders = 1
        index += 1
        while index < len(lines) and borders < 3:
            if BORDER.match(lines[index]):
                borders += 1
            elif lines[index].strip():
                rows.append(_cells(lines[index], spans))
            index += 1
        if not rows:
            continue
        header, body = rows[0], rows[1:]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        out.extend("| " + " | ".join(row) + " |" for row in body)
    return "\n".join(out)


def _cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    cells = []
    for number, (start, _end) in enumerate(spans):
        stop = spans[number + 1][0] if number + 1 < len(spans) else len(line)
        cells.append(line[start:stop].strip().replace("|", "\\|"))
    return cells


def _doctests(text: str) -> str:
    """Unindented ``>>>`` paragraphs (prompts and output) as fenced ``pycon`` blocks."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        if lines[index].startswith(">>> "):
            out.append("```pycon")
            while index < len(lines) and lines[index].strip():
                out.append(lines[index])
                index += 1
            out.append("```")
        else:
            out.append(lines[index])
            index += 1
    return "\n".join(out)


def _literal_markers(text: str) -> str:
    return re.sub(r"(?m)(\S)::$(?=\n\n    )", r"\1:", text)
