"""Matcher settings: the shared environment variables, on port 8003."""

from typing import ClassVar

from concilia.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "matcher"
    default_port: ClassVar[int] = 8003
