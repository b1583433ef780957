"""Settings of the demands service (port 8002)."""

from typing import ClassVar

from concilia.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "demands"
    default_port: ClassVar[int] = 8002
