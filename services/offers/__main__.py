"""`python -m services.offers`: the offers HTTP API on port 8001."""

from concilia.platform.runner import serve
from services.offers.app import create_app
from services.offers.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings)
