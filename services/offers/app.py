"""The offers service's composition root: the record service's parts, its routers, the
expiry of offers past their end date."""

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from concilia.platform.answer_links import LinkSigner
from concilia.platform.http import principal_dependency
from concilia.platform.record_service import RecordService, RelayFactory
from services.offers.expiry import OfferExpiry
from services.offers.links import provider_links_router
from services.offers.requesters import Requesters
from services.offers.routes import offers_router
from services.offers.settings import Settings
from services.offers.store import COLLECTION, OfferStore
from services.offers.subscribers import match_handler

GROUP_ID = "concilia-offers"


def create_app(
    settings: Settings,
    *,
    relay: RelayFactory | None = None,
    broker: KafkaBroker | None = None,
    demands_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The offers API; `relay`, `broker` and `demands_http` (the client the demands API is
    asked through) replace the defaults (tests point them elsewhere)."""
    parts = RecordService(settings, COLLECTION, ("provider_ref",), relay=relay, broker=broker)
    secret = parts.secret
    http = demands_http or httpx.AsyncClient(timeout=5)
    store = OfferStore(parts.records)
    parts.follow_match_states(GROUP_ID, match_handler(store))
    app = parts.app(
        title="Concilia offers",
        description="Providers publish welfare offers; offer events go to welfare.offers.v1.",
        routers=[
            offers_router(
                store,
                principal_dependency(secret),
                Requesters(http, settings.demands_api_url, secret),
            ),
            provider_links_router(store, LinkSigner(secret)),
        ],
        chores=[OfferExpiry(store, settings.offer_expiry_interval_seconds)],
        closing=[] if demands_http else [http.aclose],
    )
    app.state.store = store
    return app
