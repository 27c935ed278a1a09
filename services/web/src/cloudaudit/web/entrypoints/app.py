"""Wire the web app: settings, the bus platform, identity's account API, the pages."""

from __future__ import annotations

from decimal import Decimal

import jinja2

from cloudaudit.common.deps import service_settings
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.web.adapters.identity_api import IdentityApi
from cloudaudit.web.adapters.platform import Platform
from cloudaudit.web.entrypoints import pages
from cloudaudit.web.settings import WebSettings


def templates() -> jinja2.Environment:
    # autoescape everywhere: every data-derived string (tag values, service names) is HTML text
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cloudaudit.web", "templates"),
        autoescape=True,
    )
    env.filters["usd"] = usd
    return env


def usd(amount: Decimal) -> str:
    """Dollars to the cent, as `cloudaudit spend` shows them ($1,234.50)."""
    return f"${amount:,.2f}"


def build(runtime: ServiceRuntime) -> None:
    settings = service_settings(runtime.settings, WebSettings)
    settings.register_secrets()
    identity_api = IdentityApi(settings.identity_api())
    web_app = pages.WebApp(
        settings=settings,
        platform=Platform(runtime.broker, runtime.names),
        identity_api=identity_api,
        templates=templates(),
    )
    pages.register(runtime.api, web_app)
    runtime.on_stop(identity_api.stop)
