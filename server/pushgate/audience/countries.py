"""Where a subscriber is, as an ISO 3166-1 alpha-2 country: from the operator's GeoIP database
(a MaxMind .mmdb file) at subscribe time, else from the subscriber's time zone by tzdata's
zone.tab (`Europe/Berlin` → `DE`). The IP address itself is never stored.

The zone tables come from the `tzdata` package, so they are the same on every system."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import maxminddb

from pushgate.settings import SettingsError


def _tab_rows(name: str) -> list[list[str]]:
    text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@functools.cache
def zone_countries() -> dict[str, str]:
    """Each zone.tab zone and its one country: {"Europe/Berlin": "DE", ...}."""
    return {row[2]: row[0] for row in _tab_rows("zone.tab")}


@functools.cache
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code tzdata knows (iso3166.tab)."""
    return frozenset(row[0] for row in _tab_rows("iso3166.tab"))


@functools.cache
def _zones_by_country() -> dict[str, tuple[str, ...]]:
    zones: dict[str, list[str]] = {}
    for zone, country in zone_countries().items():
        zones.setdefault(country, []).append(zone)
    return {country: tuple(sorted(found)) for country, found in zones.items()}


def zones_of(countries: Iterable[str]) -> list[str]:
    """The zone.tab zones of these countries (what a subscriber without GeoIP country is in)."""
    table = _zones_by_country()
    return sorted({zone for country in countries for zone in table.get(country, ())})


def country_of_zone(zone: str | None) -> str | None:
    return zone_countries().get(zone) if zone else None


class GeoIP:
    """Country lookups in a MaxMind .mmdb file (GeoLite2-Country, GeoIP2-City, ...)."""

    def __init__(self, path: str | Path) -> None:
        try:
            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise SettingsError(f"PUSHGATE_GEOIP_DATABASE: cannot read {path}: {exc}") from exc

    def country(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The address's country code, or None when the database does not know it."""
        try:
            record: Any = self._reader.get(str(address))
        except ValueError:  # not an IP address, or IPv6 in an IPv4-only database
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code") if isinstance(country, dict) else None
        return code.upper() if isinstance(code, str) and code.upper() in country_codes() else None

    def close(self) -> None:
        self._reader.close()
