"""Static reference data of the ShipStation V1 simulator: carriers, services, marketplaces.

Raw JSON-shaped dicts only (the simulator must not share models with the SDK client). Shapes
follow shipstation.md §3.7 and §3.8; the codes are those seen in the API examples plus the
European carriers a refurbished-phone seller on Back Market uses.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "CARRIERS",
    "MARKETPLACES",
    "PACKAGES",
    "SERVICES",
    "TAGS",
    "WEIGHT_UNIT_CODES",
    "marketplace_entry",
]

# Only 1 = ounces has been observed (shipstation.md §2.5); 2 and 3 are guesses, documented.
WEIGHT_UNIT_CODES: Final[dict[str, int]] = {"ounces": 1, "pounds": 2, "grams": 3}


def _carrier(
    name: str, code: str, provider_id: int, *, funded: bool = False, primary: bool = True
) -> dict[str, Any]:
    return {
        "name": name,
        "code": code,
        "accountNumber": None if funded else f"SIM-{provider_id}",
        "requiresFundedAccount": funded,
        "balance": 250.0 if funded else 0.0,
        "nickname": None,
        "shippingProviderId": provider_id,
        "primary": primary,
    }


CARRIERS: Final[tuple[dict[str, Any], ...]] = (
    _carrier("Stamps.com", "stamps_com", 12001, funded=True),
    _carrier("UPS", "ups", 12002),
    _carrier("FedEx", "fedex", 12003),
    _carrier("USPS", "usps", 12004),
    _carrier("DHL Express", "dhl_express", 12005),
    _carrier("Royal Mail", "royal_mail", 12006),
    _carrier("Colissimo", "colissimo", 12007),
    _carrier("Chronopost", "chronopost", 12008),
    _carrier("DPD", "dpd", 12009),
    _carrier("GLS", "gls", 12010),
)


def _services(carrier: str, rows: list[tuple[str, str, bool, bool]]) -> list[dict[str, Any]]:
    return [
        {
            "carrierCode": carrier,
            "code": code,
            "name": name,
            "domestic": domestic,
            "international": international,
        }
        for code, name, domestic, international in rows
    ]


SERVICES: Final[dict[str, list[dict[str, Any]]]] = {
    "stamps_com": _services(
        "stamps_com",
        [
            ("usps_first_class_mail", "USPS First Class Mail", True, False),
            ("usps_priority_mail", "USPS Priority Mail", True, False),
            ("usps_ground_advantage", "USPS Ground Advantage", True, False),
            ("usps_priority_mail_international", "USPS Priority Mail Intl", False, True),
        ],
    ),
    "ups": _services(
        "ups",
        [
            ("ups_ground", "UPS® Ground", True, False),
            ("ups_next_day_air", "UPS Next Day Air®", True, False),
            ("ups_standard_international", "UPS Standard®", False, True),
            ("ups_worldwide_express", "UPS Worldwide Express®", False, True),
        ],
    ),
    "fedex": _services(
        "fedex",
        [
            ("fedex_ground", "FedEx Ground®", True, False),
            ("fedex_2day", "FedEx 2Day®", True, False),
            ("fedex_international_priority", "FedEx International Priority®", False, True),
        ],
    ),
    "usps": _services(
        "usps",
        [
            ("usps_first_class_mail", "USPS First Class Mail", True, False),
            ("usps_priority_mail", "USPS Priority Mail", True, False),
            ("usps_ground_advantage", "USPS Ground Advantage", True, False),
        ],
    ),
    "dhl_express": _services(
        "dhl_express",
        [
            ("dhl_express_domestic", "DHL Express Domestic", True, False),
            ("dhl_express_worldwide", "DHL Express Worldwide", False, True),
        ],
    ),
    "royal_mail": _services(
        "royal_mail",
        [
            ("royal_mail_tracked_24", "Royal Mail Tracked 24", True, False),
            ("royal_mail_tracked_48", "Royal Mail Tracked 48", True, False),
            ("royal_mail_international_tracked", "Royal Mail International Tracked", False, True),
        ],
    ),
    "colissimo": _services(
        "colissimo",
        [
            ("colissimo_domicile_sans_signature", "Colissimo Domicile sans signature", True, False),
            ("colissimo_domicile_avec_signature", "Colissimo Domicile avec signature", True, False),
            ("colissimo_expert_international", "Colissimo Expert International", False, True),
        ],
    ),
    "chronopost": _services(
        "chronopost",
        [
            ("chronopost_13", "Chrono 13", True, False),
            ("chronopost_classic_international", "Chrono Classic International", False, True),
        ],
    ),
    "dpd": _services(
        "dpd",
        [
            ("dpd_classic", "DPD Classic", True, True),
            ("dpd_predict", "DPD Predict", True, False),
        ],
    ),
    "gls": _services(
        "gls",
        [
            ("gls_business_parcel", "GLS BusinessParcel", True, True),
            ("gls_express", "GLS Express", True, False),
        ],
    ),
}


def _packages(carrier: str, rows: list[tuple[str, str, bool, bool]]) -> list[dict[str, Any]]:
    return _services(carrier, rows)


_GENERIC_PACKAGE = ("package", "Package", True, True)
PACKAGES: Final[dict[str, list[dict[str, Any]]]] = {
    code: _packages(code, [_GENERIC_PACKAGE]) for code in SERVICES
}
for _usps_like in ("stamps_com", "usps"):
    PACKAGES[_usps_like] = _packages(
        _usps_like,
        [
            _GENERIC_PACKAGE,
            ("flat_rate_envelope", "Flat Rate Envelope", True, True),
            ("small_flat_rate_box", "Small Flat Rate Box", True, True),
        ],
    )
PACKAGES["ups"] = _packages("ups", [_GENERIC_PACKAGE, ("ups_letter", "UPS Letter", True, True)])
PACKAGES["fedex"] = _packages(
    "fedex", [_GENERIC_PACKAGE, ("fedex_envelope", "FedEx® Envelope", True, True)]
)


def marketplace_entry(name: str, marketplace_id: int, *, confirms: bool = True) -> dict[str, Any]:
    """One ``GET /stores/marketplaces`` entry (id 0 is ShipStation's own manual store)."""
    return {
        "name": name,
        "marketplaceId": marketplace_id,
        "canRefresh": marketplace_id != 0,
        "supportsCustomMappings": marketplace_id != 0,
        "supportsCustomStatuses": False,
        "canConfirmShipments": confirms,
    }


# IDs seen in the spec examples (shipstation.md §3.8); Back Market is added by the simulator
# with its configurable id.
MARKETPLACES: Final[tuple[dict[str, Any], ...]] = (
    marketplace_entry("ShipStation", 0, confirms=False),
    marketplace_entry("Amazon", 2),
    marketplace_entry("3DCart", 23),
    marketplace_entry("Amazon CA", 32),
    marketplace_entry("WooCommerce", 36),
    marketplace_entry("TradeGecko", 67),
)

# Account tags for /orders/addtag and /accounts/listtags.
TAGS: Final[tuple[dict[str, Any], ...]] = (
    {"tagId": 1001, "name": "Priority", "color": "#FF0000"},
    {"tagId": 1002, "name": "IMEI checked", "color": "#00AA00"},
    {"tagId": 1003, "name": "Gift", "color": "#0000FF"},
)
