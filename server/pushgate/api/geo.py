"""A new subscriber's country from the operator's GeoIP database (PUSHGATE_GEOIP_DATABASE) and
the client's address: the connection's, or behind a trusted proxy the first untrusted hop of
X-Forwarded-For. The address is looked up and forgotten, never stored."""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.types import Scope

from pushgate.api.client_address import ClientAddresses
from pushgate.audience.countries import GeoIP
from pushgate.settings import Settings


class CountryFinder:
    def __init__(self, geoip: GeoIP, trusted_proxies: tuple[str, ...]) -> None:
        self._geoip = geoip
        self._addresses = ClientAddresses(trusted_proxies)

    def country(self, scope: Scope) -> str | None:
        address = self._addresses.address(scope)
        return self._geoip.country(address) if address is not None else None


def open_country_finder(settings: Settings, stack: AsyncExitStack) -> CountryFinder | None:
    """A finder on the configured .mmdb file (closed with `stack`); None when none is set.
    SettingsError when the file cannot be read."""
    if not settings.geoip_database:
        return None
    geoip = GeoIP(settings.geoip_database)
    stack.callback(geoip.close)
    return CountryFinder(geoip, settings.trusted_proxies)
