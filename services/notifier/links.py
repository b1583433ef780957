"""The reader's own one-click answer link (README, lifecycle): `{DEMANDS_PUBLIC_URL}/r/{token}` for
the requester, `{OFFERS_PUBLIC_URL}/r/{token}` for the provider, signed with LinkSigner."""

from dataclasses import dataclass

from concilia.contract.matches import MatchEventData, Party
from concilia.platform.answer_links import LinkSigner


@dataclass(frozen=True)
class AnswerLinks:
    signer: LinkSigner
    offers_url: str
    demands_url: str

    def for_party(self, match: MatchEventData, party: Party) -> str:
        """The link `party` answers `match` with; it expires with the answer window."""
        if match.expires_at is None:
            raise ValueError(f"match {match.match_id} has no answer deadline")
        if party is Party.REQUESTER:
            base, record_id = self.demands_url, match.demand_id
        else:
            if match.offer_id is None:
                raise ValueError(f"match {match.match_id} has no offer")
            base, record_id = self.offers_url, match.offer_id
        token = self.signer.issue(match.match_id, party, record_id, match.expires_at)
        return f"{base.rstrip('/')}/r/{token}"
