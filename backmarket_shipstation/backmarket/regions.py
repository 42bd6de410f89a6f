"""Back Market platforms: their hosts and the markets (Accept-Language codes) each one serves.

Back Market runs three platforms. One host serves every market of its platform; the market is
chosen with the ``Accept-Language`` header (a lowercase ``ll-cc`` code such as ``fr-fr``), not
with the host (backmarket.md §1.1, §2.1 [OAS]). Preprod is a separate environment with its own
account and token: a production token does not work there.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ALL_COUNTRY_CODES",
    "AP_COUNTRY_CODES",
    "EU_COUNTRY_CODES",
    "US_COUNTRY_CODES",
    "Region",
]

EU_COUNTRY_CODES: frozenset[str] = frozenset(
    {
        "fr-fr",
        "fr-be",
        "es-es",
        "de-de",
        "de-at",
        "it-it",
        "en-gb",
        "nl-nl",
        "pt-pt",
        "en-ie",
        "el-gr",
        "sk-sk",
        "sv-se",
    }
)
"""Accept-Language / ``country_code`` values of the EU platform ([OAS] "Country code")."""

US_COUNTRY_CODES: frozenset[str] = frozenset({"en-us"})
"""Accept-Language / ``country_code`` values of the US (NA) platform."""

AP_COUNTRY_CODES: frozenset[str] = frozenset({"ja-jp", "en-au"})
"""Accept-Language / ``country_code`` values of the AP (Japan, Australia) platform."""

ALL_COUNTRY_CODES: frozenset[str] = EU_COUNTRY_CODES | US_COUNTRY_CODES | AP_COUNTRY_CODES
"""The 16 values of the ``CountryCode`` enum that an order's ``country_code`` takes."""


class Region(str, Enum):
    """A Back Market platform: EU (``.fr``), US (``.com``) or AP (``.co.jp``).

    >>> Region.EU.base_url()
    'https://www.backmarket.fr'
    >>> Region.US.base_url(sandbox=True)
    'https://preprod.backmarket.com'
    """

    EU = "eu"
    US = "us"
    AP = "ap"

    def __str__(self) -> str:
        return str(self.value)

    @property
    def host(self) -> str:
        """The production host, e.g. ``www.backmarket.fr``."""
        return f"www.backmarket.{_DOMAINS[self]}"

    @property
    def preprod_host(self) -> str:
        """The preprod (sandbox) host, e.g. ``preprod.backmarket.fr``."""
        return f"preprod.backmarket.{_DOMAINS[self]}"

    def base_url(self, sandbox: bool = False) -> str:
        """The scheme and host to prefix ``/ws/...`` paths with; ``sandbox`` picks preprod."""
        return f"https://{self.preprod_host if sandbox else self.host}"

    @property
    def default_language(self) -> str:
        """The Accept-Language value used when the caller names no market."""
        return _DEFAULT_LANGUAGES[self]

    @property
    def country_codes(self) -> frozenset[str]:
        """Every Accept-Language / ``country_code`` value this platform accepts."""
        return _COUNTRY_CODES[self]

    @classmethod
    def for_country_code(cls, code: str) -> Region:
        """The platform serving a market code such as ``en-gb``; ``ValueError`` if none does."""
        normalised = code.strip().lower()
        for region in cls:
            if normalised in _COUNTRY_CODES[region]:
                return region
        raise ValueError(f"no Back Market platform serves the market {code!r}")


_DOMAINS = {Region.EU: "fr", Region.US: "com", Region.AP: "co.jp"}
_DEFAULT_LANGUAGES = {Region.EU: "fr-fr", Region.US: "en-us", Region.AP: "ja-jp"}
_COUNTRY_CODES = {
    Region.EU: EU_COUNTRY_CODES,
    Region.US: US_COUNTRY_CODES,
    Region.AP: AP_COUNTRY_CODES,
}
