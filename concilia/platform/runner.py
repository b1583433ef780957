"""Runs a service's FastAPI app under uvicorn (what `python -m services.X` calls)."""

import asyncio
import gc

import uvicorn
from fastapi import FastAPI

from concilia.platform.logging import configure_logging
from concilia.platform.settings import ServiceSettings

# The cyclic garbage collector's thresholds (allocations between young collections, young
# collections between middle ones, middle ones between full ones). With Python's defaults
# (700, 10, 10) the matcher spent about a third of its CPU collecting (135 µs of 433 per
# event on the bench workload; 10 µs with these): its markets are many long-lived objects,
# which every middle and full collection walks again, and it allocates fast. Almost all of
# its garbage is freed by reference counting anyway; cycles are still collected, later.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Collect less often, and never walk again what start-up allocated (gc.freeze)."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, settings.log_level)
    tune_gc()
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    asyncio.run(uvicorn.Server(config).serve())
