"""`python -m services.notifier`: the notifier on HTTP_PORT (default 8004)."""

from concilia.platform.runner import serve
from services.notifier.app import create_app
from services.notifier.settings import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
