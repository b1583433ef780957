"""`python -m services.demands`: the demands HTTP API on port 8002."""

from concilia.platform.runner import serve
from services.demands.app import create_app
from services.demands.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings)
