"""The mails after a proposal (DESIGN §8): accepted (the only place contacts are revealed),
declined / expired / cancelled (what happens next, seats free again), and waiting."""

from concilia.contract.matches import CancelCause, MatchEventData, NextStep, NotFoundReason, Party
from concilia.contract.notifications import Template
from services.notifier.domain import wording as w
from services.notifier.domain.views import (
    Contact,
    Fact,
    MailRequest,
    MailView,
    greeting,
    offer_facts,
    title_of,
)

_SUBJECTS = {
    Template.REQUESTER_ACCEPTED: ("Abbinamento confermato", "Match confirmed"),
    Template.PROVIDER_ACCEPTED: (
        "Abbinamento confermato per la vostra offerta",
        "Match confirmed for your offer",
    ),
    Template.REQUESTER_DECLINED: ("Proposta non confermata", "Proposal not confirmed"),
    Template.PROVIDER_DECLINED: ("Richiesta non confermata", "Request not confirmed"),
    Template.REQUESTER_EXPIRED: ("Proposta scaduta", "Proposal expired"),
    Template.PROVIDER_EXPIRED: ("Proposta scaduta", "Proposal expired"),
    Template.REQUESTER_CANCELLED: ("Abbinamento annullato", "Match cancelled"),
    Template.PROVIDER_CANCELLED: ("Abbinamento annullato", "Match cancelled"),
    Template.REQUESTER_WAITING: ("Richiesta in attesa", "Request waiting"),
}

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


def subject(template: str, detail: str, lang: str) -> str:
    """One subject per template: `Proposta scaduta: Doposcuola in Isola`."""
    it, en = _SUBJECTS[template]
    return w.single_line(f"{it if lang == 'it' else en}: {detail}")


def requester_accepted(request: MailRequest) -> MailView:
    """requester_accepted: both accepted; the provider's name and e-mail, and the offer."""
    match, lang = request.match, request.lang
    it = lang == "it"
    title, provider = title_of(match), _revealed(request)
    name = w.single_line(provider.name)
    opening = (
        f"Tu e {name} avete accettato entrambi la proposta {w.quoted(title, lang)}: "
        "l'abbinamento è confermato. Ecco i contatti del fornitore, per accordarvi sui dettagli."
        if it
        else f"You and {name} have both accepted {w.quoted(title, lang)}: the match is "
        "confirmed. Here is the provider's contact, to agree on the details."
    )
    contact = (
        Fact("Fornitore" if it else "Provider", (name,)),
        Fact("E-mail", (w.single_line(provider.email),)),
    )
    closing = (
        "Anche il fornitore ha ricevuto il tuo nome e il tuo indirizzo e-mail."
        if it
        else "The provider has received your name and e-mail address too."
    )
    return MailView(
        lang=lang,
        subject=subject(request.template, title, lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(opening,),
        facts=contact + offer_facts(match, lang, provider=None),
        closing=(closing,),
        footer_url=request.footer_url,
    )


def provider_accepted(request: MailRequest) -> MailView:
    """provider_accepted: both accepted; the requester's name and e-mail, seats and hours."""
    match, lang = request.match, request.lang
    it = lang == "it"
    title, requester = title_of(match), _revealed(request)
    name = w.single_line(requester.name)
    opening = (
        f"Entrambe le parti hanno accettato: l'abbinamento per la vostra offerta "
        f"{w.quoted(title, lang)} è confermato. Ecco i contatti di chi ha fatto la richiesta, "
        "per accordarvi sui dettagli."
        if it
        else f"Both sides have accepted: the match for your offer {w.quoted(title, lang)} is "
        "confirmed. Here is the requester's contact, to agree on the details."
    )
    demand = match.demand
    hours = tuple(w.hours(demand.needed, lang)) if demand else ()
    facts = [
        Fact("Nome" if it else "Name", (name,)),
        Fact("E-mail", (w.single_line(requester.email),)),
        Fact("Posti" if it else "Seats", (str(match.seats),)),
    ]
    if hours:
        facts.append(Fact("Orari richiesti" if it else "Hours needed", hours))
    closing = (
        f"Anche {name} ha ricevuto il nome e l'indirizzo e-mail del vostro contatto."
        if it
        else f"{name} has received your contact's name and e-mail address too."
    )
    return MailView(
        lang=lang,
        subject=subject(request.template, title, lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(opening,),
        facts=tuple(facts),
        closing=(closing,),
    )


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
            "Il posto trattenuto è di nuovo disponibile per altre richieste."
            if it
            else "The seat held is free again for other requests."
        )
    else:
        seats = (
            f"I {match.seats} posti trattenuti sono di nuovo disponibili per altre richieste."
            if it
            else f"The {match.seats} seats held are free again for other requests."
        )
    return MailView(
        lang=lang,
        subject=subject(request.template, title, lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(what,),
        closing=(seats,),
    )


def requester_waiting(request: MailRequest) -> MailView:
    """requester_waiting: why nothing fits yet, and that a new e-mail comes when something does."""
    match, lang = request.match, request.lang
    it = lang == "it"
    service = w.service_label(match.service_type, lang)
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
        subject=subject(request.template, service, lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(opening,),
        closing=(closing,),
        footer_url=request.footer_url,
    )


def _revealed(request: MailRequest) -> Contact:
    if request.other is None:
        raise ValueError(f"{request.template} needs the other side's contact")
    return request.other


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
            f"Il fornitore ha ridotto i posti dell'offerta {title} e la proposta è stata "
            "annullata.",
            f"The provider has reduced the seats of {title} and the proposal has been cancelled.",
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
            f"Avete ridotto i posti dell'offerta {title}: per rientrare nella nuova capacità "
            "abbiamo annullato questa proposta, una delle più recenti.",
            f"You have reduced the seats of {title}: to fit the new capacity we have cancelled "
            "this proposal, one of the most recent.",
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


def _reason_in(match: MatchEventData) -> NotFoundReason | None:
    try:
        return NotFoundReason(str(match.reasons.get("reason")))
    except ValueError:
        return None
