"""The one-click answer links of the proposal mails: each party's own, signed, expiring
with the answer window (README: match lifecycle)."""

import pytest

from concilia.contract.matches import Party
from concilia.platform.answer_links import LinkSigner, TamperedLink
from services.notifier.app import create_app
from services.notifier.links import AnswerLinks
from services.notifier.settings import Settings
from tests.conftest import JWT_SECRET
from tests.support.notifications import EXPIRES_AT, a_match

LINKS = AnswerLinks(LinkSigner(JWT_SECRET), "http://offers.test/", "http://demands.test")


def token_of(url: str, base: str) -> str:
    assert url.startswith(f"{base}/r/")
    return url.removeprefix(f"{base}/r/")


class TestAnswerLinks:
    def test_the_requester_s_link_answers_for_the_demand_on_the_demands_service(self) -> None:
        """`{DEMANDS_PUBLIC_URL}/r/{token}`; the token names the match, the requester and the
        demand, and expires with the answer window."""
        url = LINKS.for_party(a_match(), Party.REQUESTER)
        claims = LinkSigner(JWT_SECRET).read(token_of(url, "http://demands.test"), Party.REQUESTER)
        assert (claims.match_id, claims.party, claims.record_id) == ("m-1", Party.REQUESTER, "d-1")
        assert claims.expires_at == EXPIRES_AT

    def test_the_provider_s_link_answers_for_the_offer_on_the_offers_service(self) -> None:
        """`{OFFERS_PUBLIC_URL}/r/{token}` (no double slash); the token names the offer."""
        url = LINKS.for_party(a_match(), Party.PROVIDER)
        claims = LinkSigner(JWT_SECRET).read(token_of(url, "http://offers.test"), Party.PROVIDER)
        assert (claims.match_id, claims.party, claims.record_id) == ("m-1", Party.PROVIDER, "o-1")

    def test_one_party_s_link_does_not_answer_for_the_other(self) -> None:
        """A requester's token read as the provider's is refused as tampered."""
        url = LINKS.for_party(a_match(), Party.REQUESTER)
        with pytest.raises(TamperedLink):
            LinkSigner(JWT_SECRET).read(token_of(url, "http://demands.test"), Party.PROVIDER)

    def test_a_link_signed_with_another_secret_is_refused(self) -> None:
        """Only the services sharing AUTH_JWT_SECRET can read the links."""
        url = LINKS.for_party(a_match(), Party.REQUESTER)
        with pytest.raises(TamperedLink):
            LinkSigner("another-secret-of-32-characters!").read(
                token_of(url, "http://demands.test"), Party.REQUESTER
            )


class TestSettings:
    def test_the_notifier_refuses_to_start_without_a_secret(self) -> None:
        """No AUTH_JWT_SECRET, no signed links: create_app fails fast with a clear message."""
        with pytest.raises(RuntimeError, match="AUTH_JWT_SECRET"):
            create_app(Settings(auth_jwt_secret=None))

    def test_the_public_urls_default_to_the_embedded_stack(self) -> None:
        """OFFERS_PUBLIC_URL and DEMANDS_PUBLIC_URL default to the embedded stack's ports."""
        settings = Settings(auth_jwt_secret=JWT_SECRET)
        assert settings.offers_public_url == "http://127.0.0.1:8001"
        assert settings.demands_public_url == "http://127.0.0.1:8002"
