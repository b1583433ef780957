"""The mails after an end (match.declined, .expired, .cancelled): what happened, then what
happens next for the requester (next_step) and that the seats are free for the provider."""

from concilia import wording as w
from concilia.contract.matches import CancelCause, MatchEventData, NextStep, Party
from concilia.contract.notifications import Template
from services.notifier.domain.views import MailRequest, MailView, greeting, subject, title_of


def requester_ended(request: MailRequest) -> MailView:
    """requester_declined / _expired / _cancelled: what happened, and what happens next."""
    match, lang = request.match, request.lang
    title = title_of(match)
    what = _requester_what(request.template, match, w.quoted(title, lang), lang)
    return MailView(
        lang=lang,
        subject=subject(request.template, title, lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(what,),
        closing=_next_step(request.template, match, lang),
        footer_url=request.footer_url,
    )


def provider_ended(request: MailRequest) -> MailView:
    """provider_declined / _expired / _cancelled: what happened, and that the seats are free."""
    match, lang = request.match, request.lang
    it = lang == "it"
    title = title_of(match)
    what = _provider_what(request.template, match, w.quoted(title, lang), lang)
    if match.cause == CancelCause.CAPACITY_REDUCED:
        seats = (
            "Gli abbinamenti già confermati restano validi."
            if it
            else "Matches already confirmed stay valid."
        )
    elif match.seats == 1:
        seats = (
            "Il posto riservato è di nuovo disponibile per altre richieste."
            if it
            else "The seat we were holding is available again for other requests."
        )
    else:
        seats = (
            f"I {match.seats} posti riservati sono di nuovo disponibili per altre richieste."
            if it
            else f"The {match.seats} seats we were holding are available again for other requests."
        )
    return MailView(
        lang=lang,
        subject=subject(request.template, title, lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(what,),
        closing=(seats,),
    )


def _requester_what(template: str, match: MatchEventData, title: str, lang: str) -> str:
    it = lang == "it"
    if template == Template.REQUESTER_DECLINED:
        if match.declined_by == Party.REQUESTER:
            return (
                f"Abbiamo registrato il tuo rifiuto della proposta {title}."
                if it
                else f"We have recorded that you declined {title}."
            )
        return (
            f"Il fornitore dell'offerta {title} non può accogliere la tua richiesta."
            if it
            else f"The provider of {title} cannot take your request on."
        )
    if template == Template.REQUESTER_EXPIRED:
        if match.next_step == NextStep.REMATCH:
            return (
                f"Il fornitore dell'offerta {title} non ha risposto entro il termine, quindi la "
                "proposta è scaduta."
                if it
                else f"The provider of {title} did not answer in time, so the proposal has expired."
            )
        return (
            f"La proposta {title} è scaduta: non abbiamo ricevuto la tua risposta entro il termine."
            if it
            else f"The proposal {title} has expired: we did not receive your answer in time."
        )
    causes = {
        CancelCause.DEMAND_EXPIRED: (
            f"La tua richiesta è scaduta, quindi l'abbinamento con {title} è stato annullato.",
            f"Your request has reached its end date, so the match with {title} has been cancelled.",
        ),
        CancelCause.OFFER_WITHDRAWN: (
            f"Il fornitore ha ritirato l'offerta {title}, quindi l'abbinamento è stato annullato.",
            f"The provider has withdrawn {title}, so the match has been cancelled.",
        ),
        CancelCause.OFFER_EXPIRED: (
            f"L'offerta {title} non è più disponibile, quindi l'abbinamento è stato annullato.",
            f"{title} is no longer available, so the match has been cancelled.",
        ),
        CancelCause.CAPACITY_REDUCED: (
            f"Il fornitore ha ridotto il numero di posti dell'offerta {title} e la proposta è "
            "stata annullata.",
            f"The provider has reduced the number of places for {title} and the proposal has "
            "been cancelled.",
        ),
    }
    it_text, en_text = _by_cause(
        causes,
        match.cause,
        (
            f"L'abbinamento con {title} è stato annullato.",
            f"The match with {title} has been cancelled.",
        ),
    )
    return it_text if it else en_text


def _next_step(template: str, match: MatchEventData, lang: str) -> tuple[str, ...]:
    it = lang == "it"
    if match.next_step == NextStep.REMATCH:
        said = [
            "Stiamo cercando un'altra offerta adatta alla tua richiesta: riceverai una nuova "
            "e-mail appena ne troveremo una."
            if it
            else "We are looking for another offer that fits your request: you will get a new "
            "e-mail as soon as we find one."
        ]
        if template in (Template.REQUESTER_DECLINED, Template.REQUESTER_EXPIRED):
            said.append(
                "Questa offerta non ti verrà proposta di nuovo."
                if it
                else "We will not propose this offer to you again."
            )
        return tuple(said)
    if match.next_step in (NextStep.CLOSED, NextStep.NONE):
        return (
            (
                "La richiesta è stata chiusa. Se il servizio ti serve ancora, puoi inviare una "
                "nuova richiesta tramite la tua organizzazione."
            )
            if it
            else (
                "Your request has been closed. If you still need the service, you can submit a "
                "new request through your organisation."
            ),
        )
    return ()


def _provider_what(template: str, match: MatchEventData, title: str, lang: str) -> str:
    it = lang == "it"
    if template == Template.PROVIDER_DECLINED:
        if match.declined_by == Party.PROVIDER:
            return (
                f"Abbiamo registrato il vostro rifiuto della richiesta per l'offerta {title}."
                if it
                else f"We have recorded that you declined the request for {title}."
            )
        return (
            f"Chi ha fatto la richiesta ha rifiutato la proposta per la vostra offerta {title}."
            if it
            else f"The requester has declined the proposal for your offer {title}."
        )
    if template == Template.PROVIDER_EXPIRED:
        return (
            f"La proposta per la vostra offerta {title} è scaduta senza la conferma di entrambe "
            "le parti."
            if it
            else f"The proposal for your offer {title} expired before both sides had accepted."
        )
    causes = {
        CancelCause.DEMAND_WITHDRAWN: (
            f"La richiesta abbinata alla vostra offerta {title} è stata ritirata, quindi "
            "l'abbinamento è stato annullato.",
            f"The request matched with your offer {title} has been withdrawn, so the match has "
            "been cancelled.",
        ),
        CancelCause.DEMAND_EXPIRED: (
            f"La richiesta abbinata alla vostra offerta {title} è scaduta, quindi l'abbinamento "
            "è stato annullato.",
            f"The request matched with your offer {title} has expired, so the match has been "
            "cancelled.",
        ),
        CancelCause.CAPACITY_REDUCED: (
            f"Avete ridotto il numero di posti dell'offerta {title}: per rientrare nel nuovo "
            "numero di posti abbiamo annullato questa proposta, una delle più recenti.",
            f"You have reduced the number of places for {title}: to fit the new number we have "
            "cancelled this proposal, one of the most recent.",
        ),
    }
    it_text, en_text = _by_cause(
        causes,
        match.cause,
        (
            f"L'abbinamento con la vostra offerta {title} è stato annullato.",
            f"The match with your offer {title} has been cancelled.",
        ),
    )
    return it_text if it else en_text


def _by_cause(
    causes: dict[CancelCause, tuple[str, str]],
    cause: CancelCause | None,
    otherwise: tuple[str, str],
) -> tuple[str, str]:
    return causes.get(cause, otherwise) if cause is not None else otherwise
