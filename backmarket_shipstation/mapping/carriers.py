"""ShipStation carrier and service codes → Back Market shipper names, and tracking URLs.

Back Market's ``shipper`` takes names from its ``Shipper`` list (backmarket.md §8: exact
strings, odd spacing and casing included). ShipStation names carriers by code
(``ups``, ``stamps_com``, ``dhl_express``…; shipstation.md §3.7), and a mark-as-shipped
fulfillment carries whatever text the seller typed (``"USPS"``, ``"FedEx"``; §3.4).

The default table below maps the codes ShipStation documents or is known to use; a service
code refines the name where Back Market has a service-level entry (``UPS Ground``,
``USPS - Priority Mail``…). The service-code table is INFERRED from ShipStation's usual codes;
override either table with :meth:`CarrierMap.with_overrides`. A carrier the table does not know
becomes ``"Other"``, never a guessed name, with a tracking URL when the tracking number's shape
names the carrier unambiguously (a UPS ``1Z…`` number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from urllib.parse import quote

import attrs

__all__ = [
    "BACKMARKET_SHIPPERS",
    "DEFAULT_CARRIER_MAP",
    "DEFAULT_CARRIER_SHIPPERS",
    "DEFAULT_SERVICE_SHIPPERS",
    "OTHER_SHIPPER",
    "CarrierMap",
    "ShipperChoice",
    "tracking_url_for",
]

OTHER_SHIPPER = "Other"
"""Back Market's catch-all shipper name."""

BACKMARKET_SHIPPERS: frozenset[str] = frozenset(
    {
        "Allied Express", "Aramex Australia", "Australia Post", "Australia Post Express",
        "Austrian Post", "BPost", "BRT", "Chronopost", "Chronopost Express", "ColisPrivé",
        "Colissimo", "Correos", "Correos Express", "Couriers Please", "CTT", "Cubyn",
        "Cubyn Express", "DB Schenker", "Deutsche Post", "DHL", "DHL DE", "DHL Express",
        "DHL  EXPRESS", "DHL NL", "DHL Parcel Spain", "DHL SP", "DPD", "DPD Benelux", "DPD DE",
        "DPD FR", "DPD International", "DPD UK", "DPD UK Express", "DTDC Australia", "FedEx",
        "FedEx - 2Days", "FedEx Express", "FedEx International", "FedEx - Overnight", "Geodis",
        "Girard Agediss - Livraison dans la pièce de votre choix sur RDV", "GLS", "GLS - DE",
        "GLS - FR", "GLS International", "GLS - IT", "GLS-SPAIN", "GLS Spain Express",
        "Hermes - DE", "Hermes - UK", "Japan Post", "Livraison au pied du camion",
        "Livraison dans la pièce de votre choix", "Logoix", "MRW", "Murfy transporteur",
        "NACEX", "ParcelForce Express", "Parcelforce (Worldwide)", "Parcelpoint Pty Ltd",
        "Poste Italiane", "Post NL", "Private Transporter", "Royal Mail", "Royal Mail Express",
        "Sagawa", "Seino", "Sendle", "Seur", "Socolissimo", "Star Track Express", "TIPSA",
        "TIPSA Express", "TNT", "TNT Australia", "TNT Express", "Tourline", "UPS", "UPS 2 days",
        "UPS 2nd Day Air", "UPS Express", "UPS express save", "UPS Ground", "UPS next day",
        "UPS Overnight", "UPS standard", "USPS", "USPS Express", "USPS - First Class",
        "USPS - Priority Mail", "USPS - Priority Mail Express", "VIR", "Yamato", "Zeleris",
        "Other",
    }
)  # fmt: skip
"""Every ``shipper`` value of Back Market's ``Shipper`` enum (backmarket.md §8), verbatim."""

DEFAULT_CARRIER_SHIPPERS: Mapping[str, str] = MappingProxyType(
    {
        "ups": "UPS",
        "ups_walleted": "UPS",
        "fedex": "FedEx",
        "fedex_walleted": "FedEx",
        "fedex_uk": "FedEx",
        # Stamps.com, Endicia and Express 1 sell USPS postage: the carrier is USPS.
        "usps": "USPS",
        "stamps_com": "USPS",
        "endicia": "USPS",
        "express_1": "USPS",
        "dhl_express": "DHL Express",
        "dhl_express_worldwide": "DHL Express",
        "dhl_express_uk": "DHL Express",
        "dhl_express_au": "DHL Express",
        "dhl_express_ca": "DHL Express",
        "dhl_global_mail": "DHL",
        "dhl_ecommerce": "DHL",
        "royal_mail": "Royal Mail",
        "parcelforce": "Parcelforce (Worldwide)",
        "colissimo": "Colissimo",
        "chronopost": "Chronopost",
        "dpd": "DPD",
        "dpd_uk": "DPD UK",
        "dpd_de": "DPD DE",
        "dpd_fr": "DPD FR",
        "gls": "GLS",
        "hermes": "Hermes - UK",
        "evri": "Hermes - UK",
        "hermes_de": "Hermes - DE",
        "correos": "Correos",
        "poste_italiane": "Poste Italiane",
        "postnl": "Post NL",
        "bpost": "BPost",
        "deutsche_post": "Deutsche Post",
        "tnt": "TNT",
        "australia_post": "Australia Post",
        "sendle": "Sendle",
        "seur": "Seur",
        "japan_post": "Japan Post",
        "yamato": "Yamato",
        "sagawa": "Sagawa",
    }
)
"""ShipStation carrier code → Back Market shipper name."""

DEFAULT_SERVICE_SHIPPERS: Mapping[str, str] = MappingProxyType(
    {
        "ups_ground": "UPS Ground",
        "ups_standard": "UPS standard",
        "ups_standard_international": "UPS standard",
        "ups_next_day_air": "UPS next day",
        "ups_next_day_air_saver": "UPS next day",
        "ups_next_day_air_early_am": "UPS Overnight",
        "ups_2nd_day_air": "UPS 2nd Day Air",
        "ups_2nd_day_air_am": "UPS 2nd Day Air",
        "ups_worldwide_express": "UPS Express",
        "ups_worldwide_saver": "UPS express save",
        "usps_first_class_mail": "USPS - First Class",
        "usps_priority_mail": "USPS - Priority Mail",
        "usps_priority_mail_express": "USPS - Priority Mail Express",
        "fedex_2day": "FedEx - 2Days",
        "fedex_2day_am": "FedEx - 2Days",
        "fedex_priority_overnight": "FedEx - Overnight",
        "fedex_standard_overnight": "FedEx - Overnight",
        "fedex_first_overnight": "FedEx - Overnight",
        "fedex_international_priority": "FedEx International",
        "fedex_international_economy": "FedEx International",
    }
)
"""ShipStation service code → a more precise Back Market shipper name (INFERRED codes)."""


def _q(tracking_number: str) -> str:
    return quote(tracking_number, safe="")


_TRACKING_URLS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "UPS": lambda n: f"https://www.ups.com/track?tracknum={_q(n)}",
        "FedEx": lambda n: f"https://www.fedex.com/fedextrack/?trknbr={_q(n)}",
        "USPS": lambda n: f"https://tools.usps.com/go/TrackConfirmAction?tLabels={_q(n)}",
        "DHL Express": lambda n: (
            "https://www.dhl.com/global-en/home/tracking/tracking-express.html"
            f"?submit=1&tracking-id={_q(n)}"
        ),
        "DHL": lambda n: f"https://www.dhl.com/global-en/home/tracking.html?tracking-id={_q(n)}",
        "Royal Mail": lambda n: (
            f"https://www.royalmail.com/track-your-item#/tracking-results/{_q(n)}"
        ),
        "Parcelforce (Worldwide)": lambda n: (
            f"https://www.parcelforce.com/track-trace?trackNumber={_q(n)}"
        ),
        "Colissimo": lambda n: f"https://www.laposte.fr/outils/suivre-vos-envois?code={_q(n)}",
        "Chronopost": lambda n: (
            f"https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={_q(n)}"
        ),
        "DPD": lambda n: f"https://tracking.dpd.de/status/en_US/parcel/{_q(n)}",
        "DPD UK": lambda n: f"https://track.dpd.co.uk/parcels/{_q(n)}",
        "GLS": lambda n: f"https://gls-group.com/track/{_q(n)}",
        "Deutsche Post": lambda n: (
            f"https://www.deutschepost.de/sendung/simpleQueryResult.html?form.sendungsnummer={_q(n)}"
        ),
        "Poste Italiane": lambda n: (
            f"https://www.poste.it/cerca/index.html#/risultati-spedizioni/{_q(n)}"
        ),
        "Correos": lambda n: (
            f"https://www.correos.es/es/es/herramientas/localizador/envios/detalle?tracking-number={_q(n)}"
        ),
        "Australia Post": lambda n: f"https://auspost.com.au/mypost/track/details/{_q(n)}",
    }
)

# Which tracking page serves a more precise shipper name ("UPS Ground" is tracked by UPS).
_TRACKING_FAMILY: Mapping[str, str] = MappingProxyType(
    {
        **{name: "UPS" for name in BACKMARKET_SHIPPERS if name.upper().startswith("UPS")},
        **{name: "USPS" for name in BACKMARKET_SHIPPERS if name.startswith("USPS")},
        **{name: "FedEx" for name in BACKMARKET_SHIPPERS if name.startswith("FedEx")},
        "DHL  EXPRESS": "DHL Express",
        "DPD DE": "DPD",
        "Royal Mail Express": "Royal Mail",
        "ParcelForce Express": "Parcelforce (Worldwide)",
        "Chronopost Express": "Chronopost",
    }
)

_UPS_TRACKING_RE = re.compile(r"1Z[0-9A-Z]{16}")


def tracking_url_for(shipper: str, tracking_number: str) -> str | None:
    """The public tracking page of a parcel, or ``None`` when none can be built.

    For ``"Other"`` (an unknown carrier) a URL is built only when the number's shape names the
    carrier without doubt: UPS numbers are ``1Z`` followed by 16 letters or digits.
    """
    number = tracking_number.replace(" ", "")
    if not number:
        return None
    family = _TRACKING_FAMILY.get(shipper, shipper)
    if family == OTHER_SHIPPER and _UPS_TRACKING_RE.fullmatch(number.upper()):
        family = "UPS"
    builder = _TRACKING_URLS.get(family)
    return builder(number) if builder is not None else None


@attrs.frozen(kw_only=True)
class ShipperChoice:
    """The Back Market shipper chosen for a ShipStation carrier and service."""

    shipper: str
    """A Back Market shipper name (``"Other"`` when the carrier is unknown)."""
    known: bool
    """False when the carrier was not in the table and ``shipper`` fell back to ``"Other"``."""


def _code_key(code: str) -> str:
    # Fulfillments carry free text ("FedEx", "Royal Mail"): normalise to ShipStation's codes.
    return re.sub(r"[\s\-.]+", "_", code.strip().casefold())


def _frozen_table(table: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({_code_key(code): name for code, name in table.items()})


_SHIPPERS_BY_FOLDED_NAME = {name.casefold(): name for name in BACKMARKET_SHIPPERS}


@attrs.frozen(kw_only=True)
class CarrierMap:
    """Maps ShipStation carriers and services to Back Market shipper names.

    The default instance uses :data:`DEFAULT_CARRIER_SHIPPERS` and
    :data:`DEFAULT_SERVICE_SHIPPERS`; build your own with :meth:`with_overrides` to send, say,
    ``"DPD UK Express"`` for one of your DPD services, or to name a carrier the table lacks.
    """

    carriers: Mapping[str, str] = attrs.field(
        default=DEFAULT_CARRIER_SHIPPERS, converter=_frozen_table
    )
    """ShipStation carrier code → Back Market shipper name."""
    services: Mapping[str, str] = attrs.field(
        default=DEFAULT_SERVICE_SHIPPERS, converter=_frozen_table
    )
    """ShipStation service code → Back Market shipper name; wins over ``carriers``."""

    def with_overrides(
        self,
        *,
        carriers: Mapping[str, str] | None = None,
        services: Mapping[str, str] | None = None,
    ) -> CarrierMap:
        """A copy with some entries added or replaced (codes are matched case-insensitively)."""
        # The fields' converter normalises the codes: a later key replaces an earlier equal one.
        return CarrierMap(
            carriers={**self.carriers, **(carriers or {})},
            services={**self.services, **(services or {})},
        )

    def shipper_for(
        self, carrier_code: str | None, service_code: str | None = None
    ) -> ShipperChoice:
        """The Back Market shipper for a ShipStation carrier code and optional service code.

        A service entry wins over the carrier's; text that already is a Back Market shipper
        name (a fulfillment typed ``"Royal Mail"``) is kept as that name.
        """
        if service_code:
            by_service = self.services.get(_code_key(service_code))
            if by_service is not None:
                return ShipperChoice(shipper=by_service, known=True)
        if carrier_code:
            by_carrier = self.carriers.get(_code_key(carrier_code))
            if by_carrier is not None:
                return ShipperChoice(shipper=by_carrier, known=True)
            by_name = _SHIPPERS_BY_FOLDED_NAME.get(carrier_code.strip().casefold())
            if by_name is not None and by_name != OTHER_SHIPPER:
                return ShipperChoice(shipper=by_name, known=True)
        return ShipperChoice(shipper=OTHER_SHIPPER, known=False)


DEFAULT_CARRIER_MAP = CarrierMap()
"""The carrier map used when the caller gives none."""
