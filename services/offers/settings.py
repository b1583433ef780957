"""Settings of the offers service (port 8001)."""

from typing import ClassVar

from pydantic import Field

from concilia.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "offers"
    default_port: ClassVar[int] = 8001

    offer_expiry_interval_seconds: float = Field(
        default=60, gt=0, description="How often offers past valid_until are expired"
    )
    demands_api_url: str = Field(
        default="http://127.0.0.1:8002",
        description="The demands API, asked for the requester of an accepted match",
    )
