"""`python -m services.matcher`: consume offers and demands, publish matches."""

from concilia.platform.runner import serve
from services.matcher.app import create_app
from services.matcher.settings import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
