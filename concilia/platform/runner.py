"""Runs a service's FastAPI app under uvicorn (what `python -m services.X` calls)."""

import asyncio

import uvicorn
from fastapi import FastAPI

from concilia.platform.logging import configure_logging
from concilia.platform.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, settings.log_level)
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
