"""Which view each template is composed by (one entry per Template id)."""

from collections.abc import Callable

from concilia.contract.notifications import Template
from services.notifier.domain import accepted, endings, proposals, waiting
from services.notifier.domain.views import MailRequest, MailView

COMPOSERS: dict[str, Callable[[MailRequest], MailView]] = {
    Template.REQUESTER_MATCH: proposals.requester_proposal,
    Template.PROVIDER_MATCH: proposals.provider_proposal,
    Template.REQUESTER_ACCEPTED: accepted.requester_accepted,
    Template.PROVIDER_ACCEPTED: accepted.provider_accepted,
    Template.REQUESTER_DECLINED: endings.requester_ended,
    Template.REQUESTER_EXPIRED: endings.requester_ended,
    Template.REQUESTER_CANCELLED: endings.requester_ended,
    Template.PROVIDER_DECLINED: endings.provider_ended,
    Template.PROVIDER_EXPIRED: endings.provider_ended,
    Template.PROVIDER_CANCELLED: endings.provider_ended,
    Template.REQUESTER_WAITING: waiting.requester_waiting,
}

# Templates whose mail carries the reader's one-click answer link.
WITH_ANSWER_LINK = (Template.REQUESTER_MATCH, Template.PROVIDER_MATCH)


def compose(request: MailRequest) -> MailView:
    """The view of `request.template`; ValueError for a template this notifier does not know."""
    try:
        composer = COMPOSERS[request.template]
    except KeyError:
        raise ValueError(f"unknown template {request.template!r}") from None
    return composer(request)
