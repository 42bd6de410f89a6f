"""Carrier codes → Back Market shipper names (backmarket.md §8) and tracking URLs."""

from __future__ import annotations

import pytest

from backmarket_shipstation.mapping import (
    BACKMARKET_SHIPPERS,
    DEFAULT_CARRIER_MAP,
    OTHER_SHIPPER,
    CarrierMap,
    tracking_url_for,
)
from backmarket_shipstation.mapping.carriers import (
    DEFAULT_CARRIER_SHIPPERS,
    DEFAULT_SERVICE_SHIPPERS,
)


@pytest.mark.parametrize(
    ("carrier", "shipper"),
    [
        ("ups", "UPS"),
        ("ups_walleted", "UPS"),
        ("fedex", "FedEx"),
        ("usps", "USPS"),
        ("stamps_com", "USPS"),
        ("endicia", "USPS"),
        ("dhl_express", "DHL Express"),
        ("royal_mail", "Royal Mail"),
        ("colissimo", "Colissimo"),
        ("chronopost", "Chronopost"),
        ("dpd", "DPD"),
        ("gls", "GLS"),
    ],
)
def test_carrier_codes_map_to_documented_shipper_names(carrier: str, shipper: str) -> None:
    choice = DEFAULT_CARRIER_MAP.shipper_for(carrier)
    assert choice.shipper == shipper
    assert choice.known


def test_every_default_name_is_a_documented_shipper() -> None:
    names = set(DEFAULT_CARRIER_SHIPPERS.values()) | set(DEFAULT_SERVICE_SHIPPERS.values())
    assert names <= BACKMARKET_SHIPPERS
    assert "DHL  EXPRESS" in BACKMARKET_SHIPPERS  # the odd spacing is Back Market's own


@pytest.mark.parametrize(
    ("carrier", "service", "shipper"),
    [
        ("ups", "ups_ground", "UPS Ground"),
        ("stamps_com", "usps_priority_mail", "USPS - Priority Mail"),
        ("fedex", "fedex_2day", "FedEx - 2Days"),
        ("fedex", "fedex_ground", "FedEx"),  # no finer Back Market entry: the carrier's
    ],
)
def test_service_refines_the_shipper(carrier: str, service: str, shipper: str) -> None:
    assert DEFAULT_CARRIER_MAP.shipper_for(carrier, service).shipper == shipper


def test_fulfillment_free_text_carriers() -> None:
    assert DEFAULT_CARRIER_MAP.shipper_for("USPS").shipper == "USPS"
    assert DEFAULT_CARRIER_MAP.shipper_for("FedEx").shipper == "FedEx"
    assert DEFAULT_CARRIER_MAP.shipper_for("Royal Mail").shipper == "Royal Mail"
    assert DEFAULT_CARRIER_MAP.shipper_for("DPD UK Express").shipper == "DPD UK Express"


def test_unknown_carrier_is_other_never_a_guess() -> None:
    choice = DEFAULT_CARRIER_MAP.shipper_for("acme_couriers", "acme_next_day")
    assert choice.shipper == OTHER_SHIPPER
    assert not choice.known
    assert DEFAULT_CARRIER_MAP.shipper_for(None).shipper == OTHER_SHIPPER


def test_caller_overrides() -> None:
    custom = DEFAULT_CARRIER_MAP.with_overrides(
        carriers={"Acme Couriers": "Private Transporter"},
        services={"dpd_next_day": "DPD UK Express"},
    )
    assert custom.shipper_for("acme_couriers").shipper == "Private Transporter"
    assert custom.shipper_for("dpd", "dpd_next_day").shipper == "DPD UK Express"
    assert custom.shipper_for("ups").shipper == "UPS"
    # A default code given in another case is replaced, not shadowed.
    replaced = DEFAULT_CARRIER_MAP.with_overrides(carriers={"UPS ": "UPS Express"})
    assert replaced.shipper_for("ups").shipper == "UPS Express"
    assert len(replaced.carriers) == len(DEFAULT_CARRIER_MAP.carriers)
    assert DEFAULT_CARRIER_MAP.shipper_for("acme_couriers").shipper == OTHER_SHIPPER
    assert CarrierMap(carriers={}).shipper_for("ups").shipper == "UPS"  # a real shipper name


def test_tracking_urls() -> None:
    assert tracking_url_for("UPS Ground", "1Z 1V15 2Y68 2782 2533") == (
        "https://www.ups.com/track?tracknum=1Z1V152Y6827822533"
    )
    assert tracking_url_for("Colissimo", "6A12345678901") == (
        "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901"
    )
    assert tracking_url_for("USPS - Priority Mail", "9400111899560334762154") == (
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899560334762154"
    )
    assert (
        tracking_url_for("DPD", "a/b?c") == "https://tracking.dpd.de/status/en_US/parcel/a%2Fb%3Fc"
    )
    assert tracking_url_for("DPD DE", "01234567890123") == (
        "https://tracking.dpd.de/status/en_US/parcel/01234567890123"
    )
    assert tracking_url_for("UPS", "") is None


def test_tracking_url_for_other_only_when_the_number_names_the_carrier() -> None:
    assert tracking_url_for(OTHER_SHIPPER, "1Z1V152Y6827822533") == (
        "https://www.ups.com/track?tracknum=1Z1V152Y6827822533"
    )
    assert tracking_url_for(OTHER_SHIPPER, "123456789") is None
    assert tracking_url_for("Yamato", "123456789") is None
