"""A party's answer to a proposal (README: match lifecycle), published by the service that owns that
party's side: `demand.match_accepted|declined` on welfare.demands.v1 (the requester),
`offer.match_accepted|declined` on welfare.offers.v1 (the provider). Keyed by service_type
like every other event of those topics, so the matcher sees them in order with withdrawals."""

from datetime import datetime

from pydantic import BaseModel

from concilia.contract.taxonomy import ServiceType


class MatchAnswerData(BaseModel):
    """Payload of the answer events: which match, whose side, when.

    `demand_id` is set on demand.match_* events, `offer_id` on offer.match_* events."""

    match_id: str
    demand_id: str | None = None
    offer_id: str | None = None
    service_type: ServiceType
    answered_at: datetime
