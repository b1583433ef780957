"""The accepted mails (match.accepted): the only place where each side learns the other's
name and e-mail address (README: match lifecycle)."""

from concilia import wording as w
from services.notifier.domain.views import (
    Contact,
    Fact,
    MailRequest,
    MailView,
    greeting,
    offer_facts,
    subject,
    title_of,
)


def requester_accepted(request: MailRequest) -> MailView:
    """requester_accepted: both accepted; the provider's name and e-mail, and the offer."""
    match, lang = request.match, request.lang
    it = lang == "it"
    title, provider = title_of(match), _revealed(request)
    name = w.single_line(provider.name)
    opening = (
        f"Tu e {name} avete entrambi accettato la proposta {w.quoted(title, lang)}: "
        "l'abbinamento è confermato. Ecco i contatti del fornitore, per accordarvi sui dettagli."
        if it
        else f"You and {name} have both accepted {w.quoted(title, lang)}: the match is "
        "confirmed. Here are the provider's contact details, so that you can make "
        "arrangements directly."
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
        "confirmed. Here are the requester's contact details, so that you can make "
        "arrangements directly."
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


def _revealed(request: MailRequest) -> Contact:
    if request.other is None:
        raise ValueError(f"{request.template} needs the other side's contact")
    return request.other
