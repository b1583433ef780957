"""The demands service's composition root: the record service's parts, its routers."""

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from concilia.platform.answer_links import LinkSigner
from concilia.platform.http import principal_dependency
from concilia.platform.record_service import RecordService, RelayFactory
from services.demands.links import requester_links_router
from services.demands.routes import demands_router
from services.demands.settings import Settings
from services.demands.store import COLLECTION, DemandStore
from services.demands.subscribers import match_handler

GROUP_ID = "concilia-demands"


def create_app(
    settings: Settings,
    *,
    relay: RelayFactory | None = None,
    broker: KafkaBroker | None = None,
) -> FastAPI:
    """The demands API; `relay` and `broker` replace the defaults (tests point them elsewhere).
    Demands have no end date in v1, so nothing expires them automatically."""
    parts = RecordService(settings, COLLECTION, ("requester_ref",), relay=relay, broker=broker)
    secret = parts.secret
    store = DemandStore(parts.records)
    parts.follow_match_states(GROUP_ID, match_handler(store))
    app = parts.app(
        title="Concilia demands",
        description="Member organisations submit welfare demands; demand events go to "
        "welfare.demands.v1 without personal data.",
        routers=[
            demands_router(store, principal_dependency(secret)),
            requester_links_router(store, LinkSigner(secret)),
        ],
    )
    app.state.store = store
    return app
