"""Which view each template is composed by (one entry per Template id)."""

from collections.abc import Callable

from concilia.contract.notifications import Template
from services.notifier.domain import outcomes, views
from services.notifier.domain.views import MailRequest, MailView

COMPOSERS: dict[str, Callable[[MailRequest], MailView]] = {
    Template.REQUESTER_MATCH: views.requester_proposal,
    Template.PROVIDER_MATCH: views.provider_proposal,
    Template.REQUESTER_ACCEPTED: outcomes.requester_accepted,
    Template.PROVIDER_ACCEPTED: outcomes.provider_accepted,
    Template.REQUESTER_DECLINED: outcomes.requester_ended,
    Template.REQUESTER_EXPIRED: outcomes.requester_ended,
    Template.REQUESTER_CANCELLED: outcomes.requester_ended,
    Template.PROVIDER_DECLINED: outcomes.provider_ended,
    Template.PROVIDER_EXPIRED: outcomes.provider_ended,
    Template.PROVIDER_CANCELLED: outcomes.provider_ended,
    Template.REQUESTER_WAITING: outcomes.requester_waiting,
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
