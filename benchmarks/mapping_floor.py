"""How low could the mapping go? An idealised pipeline, against the same bare JSON figure.

    python benchmarks/mapping_floor.py [--orders 2000] [--rounds 5]

``benchmarks/mapping.py`` misses its target (mapped at most 2x bare ``json.loads`` +
``json.dumps``). This script measures what even an idealised version of the same work costs
on this interpreter, to tell a slow implementation from a target the design cannot reach:

- the JSON part of the mapped pipeline alone: ``json.loads`` of the Back Market text and
  ``json.dumps`` of the ShipStation document it becomes (not the same document as the bare
  baseline dumps);
- a *floor* of the typed layer: the same model objects (Back Market order, addresses, lines;
  ShipStation order, addresses, items, options) built and written back by straight-line code
  generated per class that does only what cannot be skipped: store each field in its slot,
  ``Decimal`` for money strings, ``fromisoformat`` for dates, and on the way out skip unset
  fields, format dates and write amounts as numbers. No type checks, no extras, no error
  paths and no mapping logic (the ShipStation values are taken ready-made from the real
  mapping).

The floor is not a usable parser; it is a lower bound of what any pure-Python code building
these typed objects must spend. Run it on a quiet machine: the pipeline interleaves several
megabytes of objects per round, and load from other processes inflates it unevenly.
"""

from __future__ import annotations

import argparse
import json
import random
import types
import typing
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from mapping import CATALOG, best_of, mapped, sample_payload

from backmarket_shipstation._convert import _decimal_to_number
from backmarket_shipstation.backmarket.models import Address as BackMarketAddress
from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.backmarket.models import OrderLine
from backmarket_shipstation.mapping import to_shipstation_order
from backmarket_shipstation.shipstation import models as ss
from backmarket_shipstation.shipstation.models import SHIPSTATION_CONVERTER

Builder = Callable[[dict[str, Any]], Any]


def _slot_setter(cls: type, name: str) -> Any:
    descriptor = next(k.__dict__[name] for k in cls.__mro__ if name in k.__dict__)
    assert isinstance(descriptor, types.MemberDescriptorType)
    return descriptor.__set__


def _inner(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def floor_parser(cls: type, children: dict[str, Builder]) -> Builder:
    """Straight-line code: read each key, convert money and dates, store in the slot."""
    hints = typing.get_type_hints(cls)
    namespace: dict[str, Any] = {
        "__new": object.__new__,
        "__cls": cls,
        "__D": Decimal,
        "__iso": datetime.fromisoformat,
    }
    lines = ["def build(data):", "    obj = __new(__cls)"]
    for index, field in enumerate(attrs.fields(cls)):
        namespace[f"__s{index}"] = _slot_setter(cls, field.name)
        if field.name == "extras":
            lines.append(f"    __s{index}(obj, {{}})")
            continue
        inner = _inner(hints[field.name])
        lines.append(f"    v = data.get({field.name!r})")
        if field.name in children:
            namespace[f"__c{index}"] = children[field.name]
            if typing.get_origin(inner) is tuple:
                lines.append(f"    v = tuple([__c{index}(x) for x in v]) if v else None")
            else:
                lines.append(f"    v = __c{index}(v) if v is not None else None")
        elif inner is Decimal:
            lines.append("    v = __D(v) if type(v) is str and v else None")
        elif inner is datetime:
            lines.append("    v = __iso(v) if v else None")
        elif isinstance(inner, type) and hasattr(inner, "_value2member_map_"):
            namespace[f"__m{index}"] = inner._value2member_map_
            lines.append(f"    v = __m{index}.get(v)")
        lines.append(f"    __s{index}(obj, v)")
    lines.append("    return obj")
    exec("\n".join(lines), namespace)
    built: Builder = namespace["build"]
    return built


def floor_copier(cls: type) -> Callable[[Any], Any]:
    """Straight-line construction of a ShipStation object from a finished one's values."""
    namespace: dict[str, Any] = {"__new": object.__new__, "__cls": cls, "__copy": {}}
    lines = ["def copy(src):", "    obj = __new(__cls)"]
    for index, field in enumerate(attrs.fields(cls)):
        namespace[f"__s{index}"] = _slot_setter(cls, field.name)
        lines.append(f"    __s{index}(obj, src.{field.name})")
    lines.append("    return obj")
    exec("\n".join(lines), namespace)
    built: Callable[[Any], Any] = namespace["copy"]
    return built


def floor_writer(cls: type, children: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """Straight-line to_dict: unset fields skipped, dates formatted, amounts as numbers."""
    hints = typing.get_type_hints(cls)
    codec = SHIPSTATION_CONVERTER._datetimes
    namespace: dict[str, Any] = {"__fmt": codec.format, "__num": _decimal_to_number}
    lines = ["def write(obj):", "    out = {}"]
    for index, field in enumerate(attrs.fields(cls)):
        if field.name == "extras":
            continue
        inner = _inner(hints[field.name])
        key = SHIPSTATION_CONVERTER.wire_name(cls, field)
        lines.append(f"    v = obj.{field.name}")
        lines.append("    if v is not None:")
        if field.name in children:
            namespace[f"__w{index}"] = children[field.name]
            if typing.get_origin(inner) is tuple:
                lines.append(f"        out[{key!r}] = [__w{index}(x) for x in v]")
            else:
                lines.append(f"        out[{key!r}] = __w{index}(v)")
        elif inner is datetime:
            lines.append(f"        out[{key!r}] = __fmt(v)")
        elif inner is Decimal:
            lines.append(f"        out[{key!r}] = __num(v)")
        elif isinstance(inner, type) and hasattr(inner, "_value2member_map_"):
            lines.append(f"        out[{key!r}] = v._value_")
        else:
            lines.append(f"        out[{key!r}] = v")
    lines.append("    return out")
    exec("\n".join(lines), namespace)
    built: Callable[[Any], Any] = namespace["write"]
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(20250310)
    texts = [json.dumps(sample_payload(rng, 41000000 + i)) for i in range(args.orders)]
    mapped(texts[:50])
    ss_orders = [
        to_shipstation_order(
            BackMarketOrder.from_dict(json.loads(text)), store_id=518236, catalog=CATALOG
        )
        for text in texts
    ]
    ss_texts = [json.dumps(order.to_dict()) for order in ss_orders]

    address = floor_parser(BackMarketAddress, {})
    line = floor_parser(OrderLine, {})
    parse = floor_parser(
        BackMarketOrder,
        {"shipping_address": address, "billing_address": address, "orderlines": line},
    )
    copy_address, copy_option = floor_copier(ss.Address), floor_copier(ss.ItemOption)
    copy_weight, copy_item = floor_copier(ss.Weight), floor_copier(ss.OrderItem)
    copy_options, copy_order = floor_copier(ss.AdvancedOptions), floor_copier(ss.Order)

    def build_ss(order: Any) -> Any:
        # Every object of the order rebuilt (the copies share the finished values).
        for item in order.items:
            copy_item(item)
            for option in item.options or ():
                copy_option(option)
            if item.weight is not None:
                copy_weight(item.weight)
        copy_address(order.ship_to)
        copy_address(order.bill_to)
        copy_options(order.advanced_options)
        if order.weight is not None:
            copy_weight(order.weight)
        return copy_order(order)

    write_weight = floor_writer(ss.Weight, {})
    write_address = floor_writer(ss.Address, {})
    write_item = floor_writer(
        ss.OrderItem, {"weight": write_weight, "options": floor_writer(ss.ItemOption, {})}
    )
    write_order = floor_writer(
        ss.Order,
        {
            "bill_to": write_address,
            "ship_to": write_address,
            "items": write_item,
            "weight": write_weight,
            "advanced_options": floor_writer(ss.AdvancedOptions, {}),
        },
    )

    def bare(_: list[str]) -> None:
        for text in texts:
            json.dumps(json.loads(text))

    def json_of_mapped(_: list[str]) -> None:
        for text, ss_text in zip(texts, ss_texts, strict=True):
            json.loads(text)
            json.dumps(json.loads(ss_text))

    def json_only(_: list[str]) -> None:
        for ss_text in ss_texts:
            json.loads(ss_text)

    loaded = [json.loads(text) for text in texts]

    def floor_typed(_: list[str]) -> None:
        for data, order in zip(loaded, ss_orders, strict=True):
            parse(data)
            write_order(build_ss(order))

    bare_s, with_loads_s, loads_s, floor_s, mapped_s = best_of(
        args.rounds, [bare, json_of_mapped, json_only, floor_typed, mapped], texts
    )
    # json_of_mapped also parses the ShipStation text to get a dict to dump: take it out.
    json_s = with_loads_s - loads_s
    print(f"bare json.loads + json.dumps        {bare_s / len(texts) * 1e6:7.1f} us/order  1.00x")
    print(
        f"JSON part of the mapped pipeline    {json_s / len(texts) * 1e6:7.1f} us/order"
        f"  {json_s / bare_s:.2f}x"
    )
    print(
        f"typed layer, idealised floor        {floor_s / len(texts) * 1e6:7.1f} us/order"
        f"  {floor_s / bare_s:.2f}x"
    )
    print(
        f"floor of the whole mapped pipeline  {(json_s + floor_s) / bare_s:21.2f}x  (target <= 2x)"
    )
    print(
        f"the real mapped pipeline            {mapped_s / len(texts) * 1e6:7.1f} us/order"
        f"  {mapped_s / bare_s:.2f}x"
    )


if __name__ == "__main__":
    main()
