"""The waiting mail (match.not_found, once per demand): why nothing fits yet, in words, and
that a new e-mail comes when something does."""

from concilia import wording as w
from concilia.contract.matches import MatchEventData, NotFoundReason
from services.notifier.domain.views import MailRequest, MailView, greeting, subject

_WAITING_WHY = {
    NotFoundReason.NO_PROVIDER: (
        "nessun fornitore offre ancora questo servizio",
        "no provider offers this service yet",
    ),
    NotFoundReason.TOO_FAR: (
        "le offerte di questo servizio sono troppo lontane dal luogo che hai indicato",
        "the offers for this service are too far from the place you gave",
    ),
    NotFoundReason.NO_TIME_OVERLAP: (
        "nessuna offerta copre gli orari che hai chiesto",
        "no offer covers the times you asked for",
    ),
    NotFoundReason.OVER_BUDGET: (
        "le offerte adatte costano più del budget che hai indicato",
        "the offers that fit cost more than your budget",
    ),
    NotFoundReason.FULL: (
        "le offerte adatte non hanno più posti liberi",
        "the offers that fit have no seats left",
    ),
    NotFoundReason.LANGUAGE: (
        "nessuna offerta è disponibile nelle lingue che hai indicato",
        "no offer is available in the languages you asked for",
    ),
    NotFoundReason.AGE: (
        "nessuna offerta è adatta all'età del beneficiario",
        "no offer suits the beneficiary's age",
    ),
}


def requester_waiting(request: MailRequest) -> MailView:
    """requester_waiting: why nothing fits yet, and that a new e-mail comes when something does."""
    match, lang = request.match, request.lang
    it = lang == "it"
    service = w.service_in_text(match.service_type, lang)
    reason = match.reason or _reason_in(match)
    why = _WAITING_WHY.get(reason) if reason else None
    opening = (
        f"Abbiamo ricevuto la tua richiesta di {service}, ma per ora nessuna offerta della rete "
        "è adatta"
        if it
        else f"We have received your request for {service}, but for now no offer in the "
        "network fits it"
    )
    opening += f": {why[0] if it else why[1]}." if why else "."
    closing = (
        "La richiesta resta aperta: appena un'offerta sarà adatta, ti scriveremo con una nuova "
        "e-mail. Non devi fare nulla."
        if it
        else "Your request stays open: as soon as an offer fits, we will send you a new e-mail. "
        "There is nothing you need to do."
    )
    return MailView(
        lang=lang,
        subject=subject(request.template, w.service_label(match.service_type, lang), lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(opening,),
        closing=(closing,),
        footer_url=request.footer_url,
    )


def _reason_in(match: MatchEventData) -> NotFoundReason | None:
    try:
        return NotFoundReason(str(match.reasons.get("reason")))
    except ValueError:
        return None
