"""The Qualys platform table: gateway (API) and web UI host of each platform."""

from __future__ import annotations

from typing import NamedTuple


class Platform(NamedTuple):
    gateway_host: str
    ui_host: str

    @property
    def gateway_url(self) -> str:
        return f"https://{self.gateway_host}"

    @property
    def ui_url(self) -> str:
        return f"https://{self.ui_host}"


PLATFORMS: dict[str, Platform] = {
    "US1": Platform("gateway.qg1.apps.qualys.com", "qualysguard.qualys.com"),
    "US2": Platform("gateway.qg2.apps.qualys.com", "qualysguard.qg2.apps.qualys.com"),
    "US3": Platform("gateway.qg3.apps.qualys.com", "qualysguard.qg3.apps.qualys.com"),
    "US4": Platform("gateway.qg4.apps.qualys.com", "qualysguard.qg4.apps.qualys.com"),
    "EU1": Platform("gateway.qg1.apps.qualys.eu", "qualysguard.qualys.eu"),
    "EU2": Platform("gateway.qg2.apps.qualys.eu", "qualysguard.qg2.apps.qualys.eu"),
    "EU3": Platform("gateway.qg3.apps.qualys.it", "qualysguard.qg3.apps.qualys.it"),
    "IN1": Platform("gateway.qg1.apps.qualys.in", "qualysguard.qg1.apps.qualys.in"),
    "CA1": Platform("gateway.qg1.apps.qualys.ca", "qualysguard.qg1.apps.qualys.ca"),
    "AE1": Platform("gateway.qg1.apps.qualys.ae", "qualysguard.qg1.apps.qualys.ae"),
    "UK1": Platform("gateway.qg1.apps.qualys.co.uk", "qualysguard.qg1.apps.qualys.co.uk"),
    "AU1": Platform("gateway.qg1.apps.qualys.com.au", "qualysguard.qg1.apps.qualys.com.au"),
    "KSA1": Platform("gateway.qg1.apps.qualysksa.com", "qualysguard.qg1.apps.qualysksa.com"),
}


def platform_for_gateway_host(host: str) -> Platform | None:
    """The platform whose gateway is `host`, if any (lets a base URL imply its UI)."""
    host = host.lower()
    return next((p for p in PLATFORMS.values() if p.gateway_host == host), None)
