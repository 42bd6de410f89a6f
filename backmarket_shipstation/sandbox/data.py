"""Seeded, realistic Back Market orders as raw JSON dicts (the shape of backmarket.md §4.4).

Deterministic: the same ``seed``, ``count`` and ``now`` give byte-identical orders. Each order
is built from its own random generator (seeded by ``(seed, index)``), so order ``i`` can be
rebuilt alone at any time, which lets the simulator serve 100,000 orders while keeping only a
small summary of each in memory (see :class:`OrderGenerator`).

What comes out: EU markets (fr-fr, fr-be, de-de, de-at, es-es, it-it, nl-nl, pt-pt, en-gb, en-ie;
EUR or GBP; local addresses, postcodes and phone numbers) and the US market (en-us, USD,
``state_or_province``, sales taxes); single- and multi-line orders (some with a quantity-2
accessory); smartphones whose IMEIs are generated but not set on the order until it ships (a
seller types them in ShipStation: :meth:`OrderGenerator.device_identifiers`); order states 1, 3,
9 and 10 (plus a few 0 and 8, which the list endpoint must hide), and cancelled or refunded
lines. Older orders are mostly shipped, recent ones wait for the seller, as in a real account.
"""

from __future__ import annotations

import random
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "LINE_ID_BASE",
    "MARKETS",
    "ORDER_ID_BASE",
    "LINE_SLOTS_PER_ORDER",
    "Market",
    "OrderGenerator",
    "OrderSummary",
    "format_timestamp",
    "from_micros",
    "to_micros",
    "generate_listings",
    "generate_orders",
    "is_valid_imei",
    "listing_uuid",
    "luhn_check_digit",
    "make_imei",
]

ORDER_ID_BASE = 41_000_000
"""Order ``index`` has the id ``ORDER_ID_BASE + index`` (8 digits, like real ids)."""
LINE_ID_BASE = 55_000_000
LINE_SLOTS_PER_ORDER = 4
"""Line ``k`` of order ``index`` has the id ``LINE_ID_BASE + index * 4 + k``."""

_IMEI = re.compile(r"[0-9]{15}")


def luhn_check_digit(body: str) -> int:
    """The Luhn digit that completes ``body`` (the GSMA rule for an IMEI's 15th digit)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_imei(value: str, *, luhn: bool = True) -> bool:
    """Exactly 15 ASCII digits and (when ``luhn``) a correct check digit."""
    if not _IMEI.fullmatch(value):
        return False
    return not luhn or luhn_check_digit(value[:14]) == int(value[14])


def make_imei(rng: random.Random, tac: str = "35") -> str:
    """A valid IMEI: a type allocation code prefix, random digits, the Luhn digit."""
    body = tac + "".join(str(rng.randrange(10)) for _ in range(14 - len(tac)))
    return body + str(luhn_check_digit(body))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """Whole microseconds since the epoch (exact, unlike ``timestamp()``)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC instant ``micros`` microseconds after the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def format_timestamp(moment: datetime, fraction_digits: int = 0, *, naive: bool = False) -> str:
    """RFC 3339 in UTC as Back Market writes it: ``Z``, and 0, 3 or 6 fraction digits.

    ``naive`` drops the ``Z`` (as in ``expected_dispatch_date``).
    """
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction_digits:
        text += "." + f"{moment.microsecond:06d}"[:fraction_digits]
    return text if naive else text + "Z"


# --- Markets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """One Back Market market: locale, currency, address conventions, carriers."""

    code: str
    country: str
    currency: str
    language: str
    weight: float
    phone_prefix: str
    phone_pattern: str
    female_names: tuple[str, ...]
    male_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    # (city, postcode pattern: '#' a digit, '@' a capital letter[, state, sales tax rate])
    cities: tuple[tuple[str, str, str, str], ...]
    shippers: tuple[str, ...]


_EU_SECOND = ("Apt 4", "Bât. B", "2nd floor", "", "", "", "")

MARKETS: tuple[Market, ...] = (
    Market(
        "fr-fr",
        "FR",
        "EUR",
        "fr",
        0.20,
        "+33",
        "6########",
        ("Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma"),
        ("Lucas", "Hugo", "Thomas", "Nicolas", "Julien", "Maxime", "Antoine", "Louis"),
        ("Martin", "Bernard", "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent", "Simon"),
        (
            "# rue des Lilas",
            "## avenue Jean Jaurès",
            "# place Bellecour",
            "## boulevard Voltaire",
            "# impasse du Moulin",
            "## rue de la République",
        ),
        (
            ("Lyon", "6900#", "", ""),
            ("Paris", "750##", "", ""),
            ("Marseille", "130##", "", ""),
            ("Toulouse", "310##", "", ""),
            ("Nantes", "440##", "", ""),
            ("Lille", "590##", "", ""),
        ),
        ("Colissimo", "Chronopost", "DPD FR", "UPS", "GLS - FR"),
    ),
    Market(
        "fr-be",
        "BE",
        "EUR",
        "fr",
        0.03,
        "+32",
        "47#######",
        ("Marie", "Louise", "Elise", "Nora"),
        ("Arthur", "Noah", "Louis", "Jules"),
        ("Peeters", "Janssens", "Maes", "Dubois", "Lambert"),
        ("## rue Royale", "# chaussée de Waterloo", "## avenue Louise"),
        (("Bruxelles", "10##", "", ""), ("Liège", "40##", "", ""), ("Namur", "50##", "", "")),
        ("BPost", "DPD Benelux", "UPS"),
    ),
    Market(
        "de-de",
        "DE",
        "EUR",
        "de",
        0.12,
        "+49",
        "15#########",
        ("Anna", "Lena", "Lea", "Hannah", "Laura", "Julia"),
        ("Lukas", "Jonas", "Leon", "Felix", "Paul", "Max"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
        (
            "Hauptstraße ##",
            "Bahnhofstraße #",
            "Goethestraße ##",
            "Schillerstraße #",
            "Lindenweg ##",
        ),
        (
            ("Berlin", "10###", "", ""),
            ("München", "80###", "", ""),
            ("Hamburg", "20###", "", ""),
            ("Köln", "50###", "", ""),
            ("Frankfurt am Main", "60###", "", ""),
        ),
        ("DHL DE", "DPD DE", "Hermes - DE", "GLS - DE", "UPS"),
    ),
    Market(
        "de-at",
        "AT",
        "EUR",
        "de",
        0.02,
        "+43",
        "66#######",
        ("Sophie", "Katharina", "Anna"),
        ("Tobias", "Florian", "David"),
        ("Gruber", "Huber", "Bauer", "Wagner"),
        ("Mariahilfer Straße ##", "Landstraßer Hauptstraße #"),
        (("Wien", "1###", "", ""), ("Graz", "80##", "", ""), ("Linz", "40##", "", "")),
        ("Austrian Post", "DPD", "UPS"),
    ),
    Market(
        "es-es",
        "ES",
        "EUR",
        "es",
        0.08,
        "+34",
        "6########",
        ("Lucía", "María", "Paula", "Carmen", "Sofía"),
        ("Hugo", "Pablo", "Javier", "Daniel"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez"),
        ("Calle Mayor ##", "Avenida de la Constitución #", "Calle del Sol ##", "Paseo del Prado #"),
        (
            ("Madrid", "280##", "", ""),
            ("Barcelona", "080##", "", ""),
            ("Valencia", "460##", "", ""),
            ("Sevilla", "410##", "", ""),
        ),
        ("Correos", "Seur", "GLS-SPAIN", "MRW", "UPS"),
    ),
    Market(
        "it-it",
        "IT",
        "EUR",
        "it",
        0.08,
        "+39",
        "3#########",
        ("Giulia", "Francesca", "Chiara", "Sara", "Martina"),
        ("Marco", "Luca", "Andrea", "Matteo", "Alessandro"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano"),
        ("Via Roma ##", "Corso Vittorio Emanuele #", "Via Garibaldi ##", "Piazza Duomo #"),
        (
            ("Milano", "201##", "", ""),
            ("Roma", "001##", "", ""),
            ("Torino", "101##", "", ""),
            ("Napoli", "801##", "", ""),
            ("Bologna", "401##", "", ""),
        ),
        ("Poste Italiane", "BRT", "GLS - IT", "UPS"),
    ),
    Market(
        "nl-nl",
        "NL",
        "EUR",
        "nl",
        0.04,
        "+31",
        "6########",
        ("Emma", "Sanne", "Lotte", "Fleur"),
        ("Daan", "Sem", "Lars", "Thijs"),
        ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker"),
        ("Kerkstraat ##", "Dorpsstraat #", "Prinsengracht ###"),
        (
            ("Amsterdam", "10## @@", "", ""),
            ("Rotterdam", "30## @@", "", ""),
            ("Utrecht", "35## @@", "", ""),
        ),
        ("Post NL", "DHL NL", "UPS"),
    ),
    Market(
        "pt-pt",
        "PT",
        "EUR",
        "pt",
        0.02,
        "+351",
        "91#######",
        ("Beatriz", "Mariana", "Inês"),
        ("João", "Tiago", "Rodrigo"),
        ("Silva", "Santos", "Ferreira", "Pereira"),
        ("Rua Augusta ##", "Avenida da Liberdade ###"),
        (("Lisboa", "1###-###", "", ""), ("Porto", "4###-###", "", "")),
        ("CTT", "DPD", "UPS"),
    ),
    Market(
        "en-gb",
        "GB",
        "GBP",
        "en",
        0.10,
        "+44",
        "7#########",
        ("Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie"),
        ("Oliver", "George", "Harry", "Jack", "Charlie", "James"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans"),
        ("## High Street", "# Church Road", "## Station Road", "# Victoria Road", "## Park Lane"),
        (
            ("London", "SW# #@@", "", ""),
            ("Manchester", "M## #@@", "", ""),
            ("Birmingham", "B## #@@", "", ""),
            ("Leeds", "LS# #@@", "", ""),
            ("Bristol", "BS# #@@", "", ""),
        ),
        ("Royal Mail", "Royal Mail Express", "DPD UK", "Parcelforce (Worldwide)", "UPS"),
    ),
    Market(
        "en-ie",
        "IE",
        "EUR",
        "en",
        0.01,
        "+353",
        "8########",
        ("Aoife", "Siobhan", "Ciara"),
        ("Seán", "Conor", "Cian"),
        ("Murphy", "Kelly", "O'Sullivan", "Walsh"),
        ("## Main Street", "# O'Connell Street"),
        (("Dublin", "D0# @#@#", "", ""), ("Cork", "T12 @#@#", "", "")),
        ("DPD", "UPS"),
    ),
    Market(
        "en-us",
        "US",
        "USD",
        "en",
        0.30,
        "+1",
        "##########",
        ("Emily", "Madison", "Ashley", "Olivia", "Jessica", "Hannah"),
        ("Michael", "Ethan", "Jacob", "Daniel", "Tyler", "Ryan"),
        ("Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez"),
        (
            "#### Oak Street",
            "### Maple Avenue",
            "## W 4th Street",
            "#### Sunset Blvd",
            "### Pine Road",
            "## Elm Drive",
        ),
        (
            ("Austin", "787##", "TX", "0.0825"),
            ("San Jose", "951##", "CA", "0.0925"),
            ("Brooklyn", "112##", "NY", "0.08875"),
            ("Seattle", "981##", "WA", "0.1025"),
            ("Miami", "331##", "FL", "0.07"),
            ("Chicago", "606##", "IL", "0.1025"),
            ("Portland", "972##", "OR", "0"),
            ("Denver", "802##", "CO", "0.0881"),
        ),
        ("USPS", "USPS - Priority Mail", "UPS", "UPS Ground", "FedEx"),
    ),
)
_MARKET_CUMULATIVE: tuple[float, ...] = tuple(
    sum(m.weight for m in MARKETS[: i + 1]) / sum(m.weight for m in MARKETS)
    for i in range(len(MARKETS))
)

# --- Products ------------------------------------------------------------------------------

_UNLOCKED = {
    "fr": "Débloqué",
    "de": "Ohne Vertrag",
    "es": "Libre",
    "it": "Sbloccato",
    "nl": "Simlockvrij",
    "pt": "Desbloqueado",
    "en": "Unlocked",
}


@dataclass(frozen=True)
class _Product:
    kind: str  # smartphone, tablet, laptop, accessory
    brand: str
    sku_base: str
    name: str
    product_id: int
    storages: tuple[int, ...]
    colours: tuple[str, ...]
    base_price: int  # EUR, Excellent condition, smallest storage
    tac: str = "35"


_PHONES = (
    _Product(
        "smartphone",
        "apple",
        "IP11",
        "iPhone 11",
        201101,
        (64, 128),
        ("Black", "White", "Purple"),
        239,
        "35",
    ),
    _Product(
        "smartphone",
        "apple",
        "IP12",
        "iPhone 12",
        201201,
        (64, 128, 256),
        ("Black", "Blue", "Green"),
        289,
        "35",
    ),
    _Product(
        "smartphone",
        "apple",
        "IP13",
        "iPhone 13",
        201301,
        (128, 256),
        ("Midnight", "Starlight", "Blue", "Pink"),
        349,
        "35",
    ),
    _Product(
        "smartphone",
        "apple",
        "IP14",
        "iPhone 14",
        201401,
        (128, 256),
        ("Midnight", "Purple", "Blue"),
        449,
        "35",
    ),
    _Product(
        "smartphone",
        "apple",
        "IP15",
        "iPhone 15",
        201501,
        (128, 256, 512),
        ("Black", "Pink", "Green"),
        569,
        "35",
    ),
    _Product(
        "smartphone",
        "samsung",
        "GS22",
        "Galaxy S22",
        301022,
        (128, 256),
        ("Phantom Black", "Green"),
        299,
        "35",
    ),
    _Product(
        "smartphone",
        "samsung",
        "GS23",
        "Galaxy S23",
        301023,
        (128, 256),
        ("Phantom Black", "Cream", "Lavender"),
        409,
        "35",
    ),
    _Product(
        "smartphone", "google", "PX7", "Pixel 7", 401007, (128,), ("Obsidian", "Snow"), 259, "35"
    ),
    _Product(
        "smartphone",
        "google",
        "PX8",
        "Pixel 8",
        401008,
        (128, 256),
        ("Obsidian", "Hazel"),
        379,
        "35",
    ),
)
_OTHER_DEVICES = (
    _Product(
        "tablet",
        "apple",
        "IPAD9",
        "iPad 10.2 (2021) Wi-Fi",
        501009,
        (64, 256),
        ("Space Grey", "Silver"),
        259,
    ),
    _Product(
        "laptop",
        "apple",
        "MBA-M1",
        'MacBook Air 13" M1 (2020)',
        601001,
        (256, 512),
        ("Space Grey", "Gold"),
        579,
    ),
)
_ACCESSORIES = (
    _Product("accessory", "apple", "CHG-USBC-20W", "20W USB-C charger", 701001, (), ("White",), 15),
    _Product("accessory", "spigen", "CASE-CLEAR", "Clear silicone case", 701002, (), ("Clear",), 9),
)
# condition code, grade suffix, price factor, weight
_CONDITIONS = (
    (9, "PRE", Decimal("1.15"), 0.10),
    (10, "EXC", Decimal("1.00"), 0.40),
    (11, "GOO", Decimal("0.90"), 0.35),
    (12, "FAI", Decimal("0.80"), 0.15),
)
_CURRENCY_FACTOR = {"EUR": Decimal("1"), "GBP": Decimal("0.86"), "USD": Decimal("1.08")}
_CENT = Decimal("0.01")

# --- Shipping ------------------------------------------------------------------------------

# Tracking number pattern ('#' digit, '@' letter) and tracking URL template per shipper.
_TRACKING: dict[str, tuple[str, str]] = {
    "Colissimo": ("6A###########", "https://www.laposte.fr/outils/suivre-vos-envois?code={}"),
    "Chronopost": (
        "XY#########FR",
        "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={}",
    ),
    "Royal Mail": (
        "@@#########GB",
        "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    ),
    "Royal Mail Express": (
        "@@#########GB",
        "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    ),
    "UPS": ("1Z###@@@##########", "https://www.ups.com/track?tracknum={}"),
    "UPS Ground": ("1Z###@@@##########", "https://www.ups.com/track?tracknum={}"),
    "USPS": ("9400##################", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "USPS - Priority Mail": (
        "9205##################",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    ),
    "FedEx": ("############", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "DHL DE": (
        "00340434##########",
        "https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode={}",
    ),
    "DHL NL": ("JVGL##########", "https://www.dhlparcel.nl/nl/volg-uw-zending?tc={}"),
}
_DEFAULT_TRACKING = ("##############", "https://tracking.example/{}")


def _fill(rng: random.Random, pattern: str) -> str:
    out = []
    for char in pattern:
        if char == "#":
            out.append(str(rng.randrange(10)))
        elif char == "@":
            out.append(chr(65 + rng.randrange(26)))
        else:
            out.append(char)
    return "".join(out)


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


# --- Order generation ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSummary:
    """What the list endpoint filters on, computed without building the whole order."""

    index: int
    order_id: int
    state: int
    country_code: str
    created: datetime
    modified: datetime
    line_count: int


# (order state, weight) by age of the order; recent orders wait for the seller.
_STATES_RECENT = ((1, 0.55), (10, 0.10), (0, 0.06), (8, 0.04), (3, 0.13), (9, 0.12))
_STATES_DAYS = ((1, 0.25), (3, 0.30), (9, 0.41), (8, 0.04))
_STATES_OLD = ((9, 0.95), (8, 0.03), (3, 0.02))


def _weighted(rng: random.Random, choices: tuple[tuple[int, float], ...]) -> int:
    draw = rng.random() * sum(w for _, w in choices)
    for value, weight in choices:
        draw -= weight
        if draw < 0:
            return value
    return choices[-1][0]


class OrderGenerator:
    """``count`` orders deterministic from ``seed``, dated in the weeks before ``now``.

    Order ``i`` (0-based) is created before order ``i + 1``; the span grows with ``count``
    (2 days for 50 orders, up to 120 days), so a small sandbox still has plenty of orders to
    accept. The summaries (what the list endpoint filters on) are drawn for every order at
    construction from one sequential stream and kept in compact arrays (about 30 bytes an
    order); :meth:`order` builds the full dict on demand from the order's own generator.

    ``markets`` (country codes such as ``"en-us"``) limits the orders to those markets, in
    their usual proportions (a US seller's account sells in ``en-us`` only); the default is
    every market of :data:`MARKETS`.
    """

    def __init__(
        self,
        seed: int = 0,
        count: int = 50,
        now: datetime | None = None,
        *,
        markets: Iterable[str] | None = None,
    ) -> None:
        if count < 0:
            raise ValueError("count cannot be negative")
        self._market_cumulative = _MARKET_CUMULATIVE
        self._market_indices = tuple(range(len(MARKETS)))
        if markets is not None:
            wanted = set(markets)
            unknown = wanted - {m.code for m in MARKETS}
            if unknown or not wanted:
                raise ValueError(f"unknown markets {sorted(unknown)!r}: codes of MARKETS")
            self._market_indices = tuple(i for i, m in enumerate(MARKETS) if m.code in wanted)
            total = sum(MARKETS[i].weight for i in self._market_indices)
            weights = [MARKETS[i].weight / total for i in self._market_indices]
            self._market_cumulative = tuple(
                sum(weights[: n + 1]) for n in range(len(self._market_indices))
            )
        now = now or datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.seed = seed
        self.count = count
        self.now = now.astimezone(timezone.utc)
        self.created = array("q")
        """Creation instants (microseconds since the epoch), by index."""
        self.modified = array("q")
        """Last modification instants (microseconds since the epoch), by index."""
        self.states = array("b")
        """Order states, by index."""
        self.markets = array("b")
        """Positions in :data:`MARKETS`, by index."""
        self._line_counts = array("b")
        self._draw_summaries()

    def _draw_summaries(self) -> None:
        rng = random.Random(self.seed)
        # Whole microseconds throughout: what the API renders is then exactly what filters
        # compare, so an inclusive bound copied from an order always includes that order.
        now = to_micros(self.now)
        day = 86_400_000_000
        span = day * min(120.0, max(2.0, self.count / 40))
        step = span / max(self.count, 1)
        start = now - span
        for index in range(self.count):
            created = int(start + step * (index + rng.random()))
            drawn = bisect_right(self._market_cumulative, rng.random())
            market = self._market_indices[min(drawn, len(self._market_indices) - 1)]
            age = now - created
            if age < day:
                state = _weighted(rng, _STATES_RECENT)
            elif age < 4 * day:
                state = _weighted(rng, _STATES_DAYS)
            else:
                state = _weighted(rng, _STATES_OLD)
            line_draw = rng.random()
            settle = rng.random()
            if state in (0, 10, 8):
                seconds = 5 + settle * 600
            elif state == 1:
                seconds = 120 + settle * 900
            elif state == 3:
                seconds = 3600 + settle * 72000
            else:
                seconds = 72000 + settle * 216000
            self.created.append(created)
            self.modified.append(min(created + int(seconds * 1_000_000), now))
            self.states.append(state)
            self.markets.append(min(market, len(MARKETS) - 1))
            self._line_counts.append(1 if line_draw < 0.75 else 2 if line_draw < 0.95 else 3)

    def _rng(self, index: int) -> random.Random:
        return random.Random((self.seed << 32) ^ index)

    def order_id(self, index: int) -> int:
        """The id of order ``index``."""
        return ORDER_ID_BASE + index

    def index_of(self, order_id: int) -> int | None:
        """The index of a generated order id, or None."""
        index = order_id - ORDER_ID_BASE
        return index if 0 <= index < self.count else None

    def summary(self, index: int) -> OrderSummary:
        """The fields the list endpoint filters on, for order ``index``."""
        return OrderSummary(
            index=index,
            order_id=ORDER_ID_BASE + index,
            state=self.states[index],
            country_code=MARKETS[self.markets[index]].code,
            created=from_micros(self.created[index]),
            modified=from_micros(self.modified[index]),
            line_count=self._line_counts[index],
        )

    def order(self, index: int) -> dict[str, Any]:
        """The full order dict for ``index``, exactly as ``GET /ws/orders/{id}`` returns it."""
        order, _ = self._build(index)
        return order

    def device_identifiers(
        self, index: int, *, include_unshipped_final: bool = False
    ) -> dict[int, tuple[str, str]]:
        """The device identifiers of order ``index``'s lines: ``{line_id: ("imei"|"serial_number",
        value)}``, for quantity-1 smartphones (IMEI) and tablets and laptops (serial number).

        Lines that ended without shipping (cancelled 4, refunded before shipping 5, not paid
        7) have no device to pack, so they are left out unless ``include_unshipped_final``.
        """
        order, identifiers = self._build(index)
        if include_unshipped_final:
            return identifiers
        ended = {line["id"] for line in order["orderlines"] if line["state"] in (4, 5, 7)}
        return {line_id: found for line_id, found in identifiers.items() if line_id not in ended}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.order(i) for i in range(self.count))

    def _build(self, index: int) -> tuple[dict[str, Any], dict[int, tuple[str, str]]]:
        if not 0 <= index < self.count:
            raise IndexError(f"order index {index} out of range 0..{self.count - 1}")
        rng = self._rng(index)
        summary = self.summary(index)
        market = MARKETS[self.markets[index]]
        order_id = summary.order_id
        created, modified = summary.created, summary.modified

        female = rng.random() < 0.5
        first = rng.choice(market.female_names if female else market.male_names)
        last = rng.choice(market.last_names)
        city, postcode, region, tax = rng.choice(market.cities)
        phone = market.phone_prefix + _fill(rng, market.phone_pattern)
        address: dict[str, Any] = {
            "company": "",
            "first_name": first,
            "last_name": last,
            "gender": 1 if female else 0,
            "first_name_pronunciation": None,
            "last_name_pronunciation": None,
            "street": _fill(rng, rng.choice(market.streets)),
            "street2": rng.choice(_EU_SECOND) if market.country != "US" else "",
            "postal_code": _fill(rng, postcode),
            "city": city,
            "country": market.country,
            "phone": phone,
            "email": f"{first[0].lower()}.{last.lower().replace(' ', '').replace(chr(39), '')}"
            f".{rng.getrandbits(24):06x}@relay.example",
            "customer_id_number": "",
        }
        if market.country == "US":
            address["state_or_province"] = region
        billing = dict(address)
        if rng.random() < 0.08:
            billing["company"] = f"{last} Consulting"

        # Lines: the first is a device; extra lines are devices or quantity-2 accessories.
        lines: list[dict[str, Any]] = []
        identifiers: dict[int, tuple[str, str]] = {}
        order_state = summary.state
        cancelled_extra = summary.line_count > 1 and rng.random() < 0.2
        shipper_display = rng.choice(market.shippers)
        shipped = order_state == 9
        fraction = rng.choice((0, 3, 6))
        for k in range(summary.line_count):
            if k == 0:
                product = rng.choice(_PHONES) if rng.random() < 0.85 else rng.choice(_OTHER_DEVICES)
                quantity = 1
            elif rng.random() < 0.5:
                product = rng.choice(_ACCESSORIES)
                quantity = 2 if rng.random() < 0.6 else 1
            else:
                product = rng.choice(_PHONES)
                quantity = 1
            line_id = LINE_ID_BASE + index * LINE_SLOTS_PER_ORDER + k
            condition, grade, factor, _ = rng.choices(
                _CONDITIONS, weights=[c[3] for c in _CONDITIONS]
            )[0]
            colour = rng.choice(product.colours)
            if product.storages:
                storage_index = rng.randrange(len(product.storages))
                storage = product.storages[storage_index]
                unit = "Go" if market.language == "fr" else "GB"
                title = f"{product.name} {storage} {unit} - {colour}"
                if product.kind == "smartphone":
                    title += f" - {_UNLOCKED[market.language]}"
                sku = f"{product.sku_base}-{storage}-{colour[:3].upper()}-{grade}"
                price = Decimal(product.base_price + 60 * storage_index)
            else:
                title, sku, price = product.name, product.sku_base, Decimal(product.base_price)
                condition = 10
            price = (price * factor * _CURRENCY_FACTOR[market.currency]).to_integral_value()
            price -= Decimal("0.01") if rng.random() < 0.3 else 0
            line_state = {0: 0, 10: 8, 8: 7, 1: 1, 3: 2}.get(order_state, 3)
            if k > 0 and cancelled_extra:
                line_state = 4
            elif order_state == 9:
                variant = rng.random()
                line_state = 4 if variant < 0.07 else 6 if variant < 0.10 else 3
            tax_rate = Decimal(tax) if tax else Decimal(0)
            sales_taxes = price * quantity * tax_rate
            identifier: tuple[str, str] | None = None
            if quantity == 1 and product.kind == "smartphone":
                identifier = ("imei", make_imei(rng, product.tac))
            elif product.kind in ("tablet", "laptop"):
                identifier = ("serial_number", _fill(rng, "C02@@#@@@@##"))
            if identifier is not None:
                identifiers[line_id] = identifier
            registered_imei = registered_serial = ""
            if line_state in (3, 6) and identifier is not None and rng.random() < 0.7:
                # Most shipped devices already carry the identifier the seller sent.
                if identifier[0] == "imei":
                    registered_imei = identifier[1]
                else:
                    registered_serial = identifier[1]
            lines.append(
                {
                    "id": line_id,
                    "date_creation": format_timestamp(created, 6),
                    "state": line_state,
                    "listing": sku,
                    "listing_id": 4_000_000 + product.product_id % 1000 * 100 + condition,
                    "product": title,
                    "product_id": product.product_id,
                    "brand": product.brand,
                    "quantity": quantity,
                    "price": _money(price),
                    "shipping_price": "0.00",
                    "shipping_delay": 48,
                    "currency": market.currency,
                    "orderline_fee": _money(price * quantity * Decimal("0.1")),
                    "sales_taxes": _money(sales_taxes),
                    "return_reason": 21 if line_state == 6 else 0,
                    "return_message": "Screen flickers" if line_state == 6 else "",
                    "backcare": False,
                    "backcare_price": 0,
                    "imei": registered_imei,
                    "serial_number": registered_serial,
                    "condition": condition,
                }
            )
        if all(line["state"] == 4 for line in lines):
            shipped = False
        elif order_state == 9:
            shipped = any(line["state"] in (3, 6) for line in lines)

        express = rng.random() < 0.12
        shipping_price = Decimal("9.99") if express else Decimal(0)
        if express:
            lines[0]["shipping_price"] = _money(shipping_price)
        total = sum((Decimal(x["price"]) * x["quantity"] for x in lines), Decimal(0))
        taxes = sum((Decimal(x["sales_taxes"]) for x in lines), Decimal(0))
        payment = rng.choices(("CARD", "PAYPAL", "KLARNA"), weights=(0.7, 0.2, 0.1))[0]
        tld = {"GB": "co.uk", "US": "com"}.get(market.country, "fr")
        host = f"https://www.backmarket.{tld}"
        backship = market.country != "US" and rng.random() < 0.04
        tracking_number = tracking_url = shipper = ""
        date_shipping: str | None = None
        if shipped or (backship and order_state == 3):
            pattern, url = _TRACKING.get(shipper_display, _DEFAULT_TRACKING)
            tracking_number = _fill(rng, pattern)
            tracking_url = url.format(tracking_number)
        if shipped:
            shipper = shipper_display
            date_shipping = format_timestamp(modified - timedelta(minutes=rng.randrange(5, 90)))
        dispatch = (created + timedelta(hours=48)).replace(minute=0, second=0, microsecond=0)
        order: dict[str, Any] = {
            "order_id": order_id,
            "state": order_state,
            "date_creation": format_timestamp(created, 6),
            "date_modification": format_timestamp(modified, fraction),
            "date_payment": None
            if order_state in (0, 10, 8)
            else format_timestamp(created + timedelta(seconds=30 + rng.random() * 300), 3),
            "date_shipping": date_shipping,
            "expected_dispatch_date": format_timestamp(dispatch, naive=True),
            "country_code": market.code,
            "currency": market.currency,
            "price": _money(total),
            "shipping_price": _money(shipping_price),
            "sales_taxes": _money(taxes),
            "payment_method": payment,
            "paypal_reference": _fill(rng, "PAYID-@@@@@@@@@@@") if payment == "PAYPAL" else None,
            "installment_payment": payment == "KLARNA",
            "delivery_note": f"{host}/bo-seller/orders/delivery_note/{order_id}.pdf",
            "tracking_number": tracking_number,
            "tracking_url": tracking_url,
            "shipper": shipper,
            "shipper_display": shipper_display,
            "is_backship": backship,
            "delivery_mode": "COLLECTION_POINT" if rng.random() < 0.1 else "HOME_DELIVERY",
            "shipping_address": address,
            "billing_address": billing,
            "orderlines": lines,
        }
        return order, identifiers


def generate_orders(
    seed: int = 0, count: int = 50, now: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` orders deterministic from ``seed`` (see :class:`OrderGenerator`)."""
    return iter(OrderGenerator(seed, count, now))


# --- Listings ------------------------------------------------------------------------------

_GRADES = {9: ("PREMIUM", 9), 10: ("EXCELLENT", 0), 11: ("GOOD", 2), 12: ("FAIR", 3)}
"""Order-line condition code -> listing ``grade`` and deprecated listing ``state`` code."""


def listing_uuid(seed: int, number: int) -> str:
    """A UUID-shaped listing id, deterministic from ``(seed, number)``."""
    rng = random.Random(f"listing-{seed}-{number}")
    digits = f"{rng.getrandbits(128):032x}"
    # Version 4 and variant bits, as Back Market's ids are random UUIDs.
    digits = digits[:12] + "4" + digits[13:16] + "89ab"[int(digits[16], 16) % 4] + digits[17:]
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _catalog_entries() -> list[tuple[_Product, str, str, Decimal, int]]:
    """Every SKU the order generator can sell: (product, sku, title, EUR price, condition)."""
    entries: list[tuple[_Product, str, str, Decimal, int]] = []
    for product in (*_PHONES, *_OTHER_DEVICES):
        for storage_index, storage in enumerate(product.storages):
            for colour in product.colours:
                for condition, grade, factor, _ in _CONDITIONS:
                    sku = f"{product.sku_base}-{storage}-{colour[:3].upper()}-{grade}"
                    title = f"{product.name} {storage} GB - {colour}"
                    price = Decimal(product.base_price + 60 * storage_index) * factor
                    entries.append((product, sku, title, price.to_integral_value(), condition))
    for product in _ACCESSORIES:
        entries.append((product, product.sku_base, product.name, Decimal(product.base_price), 10))
    return entries


def generate_listings(seed: int = 0, count: int | None = None) -> list[dict[str, Any]]:
    """The seller's listings as the simulator stores them, deterministic from ``seed``.

    First every SKU the generated orders sell (so that an order lowers a real listing's
    stock), then, when ``count`` asks for more, numbered SKUs ``SB-000001``... Quantities are
    0 to 12 (about a tenth at 0, offline), prices per market in the market's currency. The
    stored dict carries the ``ListingPublic`` fields plus ``prices`` and ``comments`` by
    market; the simulator renders one market at a time.
    """
    rng = random.Random(f"listings-{seed}")
    entries = _catalog_entries()
    total = len(entries) if count is None else count
    listings: list[dict[str, Any]] = []
    for number in range(total):
        if number < len(entries):
            product, sku, title, price, condition = entries[number]
            product_number = product.product_id
        else:
            serial = number - len(entries) + 1
            sku, title = f"SB-{serial:06d}", f"Refurbished device #{serial}"
            price, condition = Decimal(80 + rng.randrange(900)), rng.choice((9, 10, 11, 12))
            product_number = 900_000 + serial
        grade, state = _GRADES[condition]
        quantity = 0 if rng.random() < 0.1 else rng.randint(1, 12)
        listings.append(
            {
                "id": listing_uuid(seed, number),
                "listing_id": 4_000_000 + number,
                "product_id": listing_uuid(seed + 1_000_003, product_number),
                "backmarket_id": product_number,
                "sku": sku,
                "title": title,
                "quantity": quantity,
                "prices": {
                    market.code: _money(price * _CURRENCY_FACTOR[market.currency])
                    for market in MARKETS
                },
                "min_price": None,
                "max_price": None,
                "state": state,
                "grade": grade,
                "publication_state": 2 if quantity > 0 else 3,
                "warranty_delay": 12,
                "comments": {},
                "shippings": [
                    {
                        "shipping_price": "0.00",
                        "shipping_delay": 48,
                        "shipper": "Colissimo",
                        "shipper_display": "Colissimo",
                        "country_code": "fr-fr",
                    }
                ],
                "new_battery": False,
            }
        )
    return listings
