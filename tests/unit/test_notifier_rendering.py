"""The notifier's e-mails: words, views, layouts and the RFC 5322 message, without any I/O."""

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from concilia import wording
from concilia.contract.common import WeeklySlot
from concilia.contract.matches import MatchEventData, NotFoundReason
from concilia.contract.notifications import Template
from services.notifier.domain.mails import COMPOSERS, compose
from services.notifier.domain.message import RenderedMail, build_message, message_id, render
from services.notifier.domain.views import Contact, MailRequest
from tests.support.notifications import a_match, not_found

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
MAIL_FROM = "Concilia Isola <noreply@concilia.example>"
REQUESTER = Contact("Giulia Rossi", "giulia@example.org")
PROVIDER = Contact("Cooperativa Isola Ragazzi", "coop@example.org")
REQUESTER_LINK = "https://demands.example/r/requester-token"
PROVIDER_LINK = "https://offers.example/r/provider-token"
FOOTER = "https://concilia.example"
INTERNAL_IDS = ("coop-isola", "azienda-garibaldi", "m-1", "nf-1", "o-1", "d-1", "r-1", "p-1")
LANGS = ("it", "en")

# Every template with the event data it is sent for.
EVENTS: dict[str, MatchEventData] = {
    Template.REQUESTER_MATCH: a_match(),
    Template.PROVIDER_MATCH: a_match(),
    Template.REQUESTER_ACCEPTED: a_match(state="accepted"),
    Template.PROVIDER_ACCEPTED: a_match(state="accepted"),
    Template.REQUESTER_DECLINED: a_match(declined_by="provider", next_step="rematch"),
    Template.PROVIDER_DECLINED: a_match(declined_by="requester", next_step="rematch"),
    Template.REQUESTER_EXPIRED: a_match(state="expired", next_step="closed"),
    Template.PROVIDER_EXPIRED: a_match(state="expired", next_step="closed"),
    Template.REQUESTER_CANCELLED: a_match(cause="offer_withdrawn", next_step="rematch"),
    Template.PROVIDER_CANCELLED: a_match(cause="demand_withdrawn", next_step="none"),
    Template.REQUESTER_WAITING: not_found(),
}
TEMPLATES = sorted(EVENTS)
PROPOSALS = (Template.REQUESTER_MATCH, Template.PROVIDER_MATCH)
ACCEPTED = (Template.REQUESTER_ACCEPTED, Template.PROVIDER_ACCEPTED)


def mail(template: str, lang: str = "it", match: MatchEventData | None = None) -> RenderedMail:
    """The mail as the dispatcher composes it: the reader, the other side's contact when the
    notifier has it, the reader's own link for a proposal, the footer for requesters."""
    to_requester = template.startswith("requester_")
    link = None
    if template in PROPOSALS:
        link = REQUESTER_LINK if to_requester else PROVIDER_LINK
    request = MailRequest(
        template=template,
        match=match or EVENTS[template],
        recipient_name=(REQUESTER if to_requester else PROVIDER).name,
        lang=lang,
        other=PROVIDER if to_requester else REQUESTER,
        answer_url=link,
        footer_url=FOOTER if to_requester else "",
    )
    return render(compose(request))


def every_word(rendered: RenderedMail) -> str:
    return "\n".join((rendered.subject, rendered.text, rendered.html))


def as_message(rendered: RenderedMail, to: Contact = REQUESTER) -> EmailMessage:
    return build_message(
        job_id="job-1",
        mail_from=MAIL_FROM,
        to_name=to.name,
        to_email=to.email,
        mail=rendered,
        now=NOW,
    )


def parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()  # type: ignore[attr-defined]


class TestWords:
    def test_hours_group_days_sharing_a_window_in_italian(self) -> None:
        """Days with the same hours share one line, in week order, with an en dash."""
        slots = [
            WeeklySlot(day="wed", start="14:00", end="19:00"),
            WeeklySlot(day="mon", start="14:00", end="19:00"),
            WeeklySlot(day="sat", start="09:00", end="12:00"),
        ]
        assert wording.hours(slots, "it") == ["lunedì, mercoledì 14:00–19:00", "sabato 09:00–12:00"]

    def test_hours_are_in_english_for_english_readers(self) -> None:
        """English readers get English day names."""
        slots = [WeeklySlot(day="mon", start="14:00", end="19:00")]
        assert wording.hours(slots, "en") == ["Monday 14:00–19:00"]

    def test_prices_follow_each_language_s_conventions(self) -> None:
        """Italian puts the euro after a comma decimal, English before a dot decimal."""
        assert wording.price(120, "month", "it") == "120 € al mese"
        assert wording.price(12.5, "session", "en") == "€12.50 per session"
        assert wording.price(0, "month", "it") == "gratuito"

    def test_large_amounts_carry_each_language_s_thousands_mark(self) -> None:
        """Home nursing can cost more than a thousand euros: `1.250,50 €`, `€1,250.50`."""
        assert wording.euros(1250.5, "it") == "1.250,50 €"
        assert wording.euros(1250.5, "en") == "€1,250.50"
        assert wording.number(1200, "it") == "1.200"
        assert wording.number(0.4, "it") == "0,4"

    def test_a_service_inside_a_sentence_starts_lower_case(self) -> None:
        """`la tua richiesta di doposcuola`; the subject keeps the label as it is."""
        assert wording.service_in_text("after_school", "it") == "doposcuola"
        assert wording.service_in_text("after_school", "en") == "after-school care"
        assert wording.service_label("after_school", "it") == "Doposcuola"

    def test_an_unknown_contact_language_falls_back_to_italian(self) -> None:
        """Only it and en have templates; anything else reads Italian."""
        assert wording.language_of("de") == "it"
        assert wording.language_of("en") == "en"


class TestEveryTemplate:
    def test_every_template_id_has_a_view(self) -> None:
        """Each Template id is composed by one view, and the tests cover them all."""
        ids = {v for k, v in vars(Template).items() if k.isupper()}
        assert set(COMPOSERS) == ids == set(EVENTS)

    @pytest.mark.parametrize("lang", LANGS)
    @pytest.mark.parametrize("template", TEMPLATES)
    def test_it_greets_the_reader_by_name(self, template: str, lang: str) -> None:
        """`Gentile <name>,` in Italian, `Dear <name>,` in English, in both parts."""
        rendered = mail(template, lang)
        name = (REQUESTER if template.startswith("requester_") else PROVIDER).name
        expected = f"Gentile {name}," if lang == "it" else f"Dear {name},"
        assert rendered.text.startswith(expected + "\n")
        assert f"<p>{expected}</p>" in rendered.html

    @pytest.mark.parametrize("lang", LANGS)
    @pytest.mark.parametrize("template", TEMPLATES)
    def test_it_shows_no_internal_id(self, template: str, lang: str) -> None:
        """No organization id, match id, record id or ref anywhere in the mail."""
        words = every_word(mail(template, lang))
        for internal in INTERNAL_IDS:
            assert internal not in words

    @pytest.mark.parametrize("lang", LANGS)
    @pytest.mark.parametrize("template", TEMPLATES)
    def test_only_a_proposal_holds_a_link_and_only_the_reader_s_own(
        self, template: str, lang: str
    ) -> None:
        """The requester's proposal holds the demands link on a line of its own, the
        provider's the offers link; no other mail holds an answer link."""
        rendered = mail(template, lang)
        own = {Template.REQUESTER_MATCH: REQUESTER_LINK, Template.PROVIDER_MATCH: PROVIDER_LINK}
        for link in (REQUESTER_LINK, PROVIDER_LINK):
            if own.get(template) == link:
                assert link in rendered.text.splitlines()
                assert f'href="{link}"' in rendered.html
            else:
                assert link not in every_word(rendered)
        if template not in PROPOSALS:
            assert "/r/" not in every_word(rendered)

    @pytest.mark.parametrize("lang", LANGS)
    @pytest.mark.parametrize("template", TEMPLATES)
    def test_contacts_are_revealed_only_once_both_accepted(self, template: str, lang: str) -> None:
        """An accepted mail holds the other side's name and e-mail; no other mail holds an
        e-mail address, and the provider's mails name the requester only once accepted."""
        rendered = mail(template, lang)
        words = every_word(rendered)
        if template in ACCEPTED:
            other = PROVIDER if template.startswith("requester_") else REQUESTER
            assert other.name in rendered.text
            assert other.email in rendered.text
            assert other.email in rendered.html
        else:
            assert "@" not in words
        if template.startswith("provider_") and template not in ACCEPTED:
            assert "Giulia" not in words

    @pytest.mark.parametrize("lang", LANGS)
    @pytest.mark.parametrize("template", TEMPLATES)
    def test_the_subject_is_one_line_whatever_the_event_says(
        self, template: str, lang: str
    ) -> None:
        """One non-empty single-line subject per template: who declined or why it was
        cancelled does not change it."""
        subject = mail(template, lang).subject
        assert subject
        assert "\n" not in subject
        assert "\r" not in subject
        if template.endswith("_declined"):
            other = EVENTS[template].model_copy(update={"declined_by": "requester"})
            assert mail(template, lang, other).subject == subject


class TestProposals:
    def test_the_requester_s_proposal_says_what_where_when_how_much_and_why(self) -> None:
        """Title, provider by name, address, hours, price, welfare and the reasons in words."""
        text, html = parts(as_message(mail(Template.REQUESTER_MATCH, "it")))
        assert "Offerto da: Cooperativa Isola Ragazzi" in text
        for expected in (
            "Doposcuola in Isola",
            "Cooperativa Isola Ragazzi",
            "Piazzale Archinto 1, 20159 Milano",
            "lunedì, martedì, mercoledì 14:00–19:00",
            "120 € al mese, pagabile con i crediti welfare",
            "a 0,4 km da te",
            "copre entrambi gli orari richiesti",
            "entro il tuo budget di 200 €",
            "adatto a chi ha 8 anni",
        ):
            assert expected in text
            assert expected in html

    def test_the_answer_deadline_is_said_in_words_in_milan_time(self) -> None:
        """expires_at 13:30 UTC on 28 November 2026 is 14:30 in Milan, a Saturday."""
        requester = " ".join(mail(Template.REQUESTER_MATCH).text.split())
        assert "entro sabato 28 novembre alle 14:30" in requester
        assert "entro sabato 28 novembre alle 14:30" in mail(Template.PROVIDER_MATCH).html
        english = " ".join(mail(Template.PROVIDER_MATCH, "en").text.split())
        assert "by Saturday 28 November at 14:30 (Italian time)" in english

    def test_summer_time_is_minded(self) -> None:
        """In July Milan is two hours ahead of UTC."""
        july = datetime(2026, 7, 2, 8, 0, tzinfo=UTC)
        assert wording.deadline(july, "it") == "giovedì 2 luglio alle 10:00"

    def test_without_the_provider_s_contact_the_offer_title_is_enough(self) -> None:
        """No contact yet for the provider: no `Offerto da` line, never an organization id."""
        request = MailRequest(
            template=Template.REQUESTER_MATCH,
            match=a_match(),
            recipient_name="Giulia Rossi",
            lang="it",
            answer_url=REQUESTER_LINK,
        )
        text = render(compose(request)).text
        assert "Offerto da" not in text
        assert "coop-isola" not in text
        assert "Doposcuola in Isola" in text

    def test_the_english_proposal_is_in_english(self) -> None:
        """A requester whose language is en reads English words and numbers."""
        rendered = mail(Template.REQUESTER_MATCH, "en")
        assert rendered.subject == "We found a service for you: Doposcuola in Isola"
        assert "0.4 km from you" in rendered.text
        assert "covers both time slots you asked for" in rendered.text
        assert "within your budget of €200" in rendered.text
        assert "Monday, Tuesday, Wednesday 14:00–19:00" in rendered.text

    def test_a_remote_offer_is_said_to_be_online(self) -> None:
        """No address for a remote offer: `a distanza (online)` instead."""
        match = a_match()
        assert match.offer is not None
        remote = match.offer.model_copy(update={"remote": True, "address": None})
        text = mail(Template.REQUESTER_MATCH, "it", a_match(offer=remote.model_dump())).text
        assert "Dove: a distanza (online)" in text

    def test_a_remote_match_says_no_travel_is_needed(self) -> None:
        """The matcher's `remote` code, not a distance, explains a remote proposal."""
        reasons = {"codes": ["remote", "availability_covered"], "distance_km": None}
        text = mail(Template.REQUESTER_MATCH, "en", a_match(reasons=reasons)).text
        assert "remote, no travel needed" in text
        assert "km from you" not in text
        assert "budget" not in text

    def test_the_provider_s_proposal_describes_the_request_without_the_requester(self) -> None:
        """Service, seats, hours, distance and age; no name, address or organisation."""
        text, _ = parts(as_message(mail(Template.PROVIDER_MATCH, "it"), PROVIDER))
        for expected in (
            "Servizio richiesto: Doposcuola",
            "Posti: 2",
            "lunedì, mercoledì 16:30–18:30",
            "a 0,4 km dalla vostra sede",
            "Età del beneficiario: 8 anni",
            "Abbiamo riservato 2 posti",
        ):
            assert expected in text
        assert "Organizzazione" not in text
        assert "tramite l'organizzazione" not in text
        assert "quando entrambe le parti avranno accettato" in " ".join(text.split())

    def test_italian_counts_agree_with_their_noun(self) -> None:
        """1 posto, 1 anno; 2 posti, 2 anni; one wanted slot is `l'orario richiesto`."""
        demand = {**a_match().model_dump()["demand"], "beneficiary_age": 1}
        demand["needed"] = demand["needed"][:1]
        one = a_match(seats=1, demand=demand, reasons={**a_match().reasons})
        provider = mail(Template.PROVIDER_MATCH, "it", one).text
        assert "Posti: 1" in provider
        assert "Abbiamo riservato 1 posto " in provider
        assert "Età del beneficiario: 1 anno\n" in provider
        assert "copre l'orario richiesto" in mail(Template.REQUESTER_MATCH, "it", one).text


class TestAfterTheProposal:
    def test_the_accepted_requester_mail_gives_the_provider_s_contact(self) -> None:
        """Both accepted: the provider's name and e-mail, then the offer again."""
        text = mail(Template.REQUESTER_ACCEPTED, "it").text
        assert "Tu e Cooperativa Isola Ragazzi avete entrambi accettato" in " ".join(text.split())
        assert "Fornitore: Cooperativa Isola Ragazzi" in text
        assert "E-mail: coop@example.org" in text

    def test_the_accepted_provider_mail_gives_the_requester_s_contact(self) -> None:
        """Both accepted: the requester's name and e-mail, the seats and the hours."""
        text = mail(Template.PROVIDER_ACCEPTED, "en").text
        assert "Name: Giulia Rossi" in text
        assert "E-mail: giulia@example.org" in text
        assert "Seats: 2" in text

    @pytest.mark.parametrize(
        "template",
        [Template.REQUESTER_DECLINED, Template.REQUESTER_EXPIRED, Template.REQUESTER_CANCELLED],
    )
    def test_a_rematch_promises_a_new_mail(self, template: str) -> None:
        """next_step rematch: we look for another offer and a new e-mail will come."""
        match = EVENTS[template].model_copy(update={"next_step": "rematch"})
        text = " ".join(mail(template, "it", match).text.split())
        assert "Stiamo cercando un'altra offerta" in text
        assert "riceverai una nuova e-mail" in text

    def test_a_closed_request_says_why_and_that_a_new_one_can_be_sent(self) -> None:
        """next_step closed: no answer in time, the request is closed, a new one is possible."""
        text = " ".join(mail(Template.REQUESTER_EXPIRED, "it").text.split())
        assert "non abbiamo ricevuto la tua risposta entro il termine" in text
        assert "La richiesta è stata chiusa" in text
        assert "puoi inviare una nuova richiesta" in text
        english = " ".join(mail(Template.REQUESTER_EXPIRED, "en").text.split())
        assert "you can submit a new request" in english

    def test_who_declined_is_said_to_the_requester(self) -> None:
        """Declined by the requester: we recorded it; by the provider: it cannot take it on."""
        own = EVENTS[Template.REQUESTER_DECLINED].model_copy(update={"declined_by": "requester"})
        assert "il tuo rifiuto" in mail(Template.REQUESTER_DECLINED, "it", own).text
        assert "non può accogliere" in mail(Template.REQUESTER_DECLINED, "it").text

    @pytest.mark.parametrize(
        "template",
        [Template.PROVIDER_DECLINED, Template.PROVIDER_EXPIRED, Template.PROVIDER_CANCELLED],
    )
    def test_the_provider_learns_its_seats_are_free_again(self, template: str) -> None:
        """Plural and singular agree: `I 2 posti riservati sono`, `Il posto riservato è`."""
        two = " ".join(mail(template, "it").text.split())
        assert "I 2 posti riservati sono di nuovo disponibili" in two
        one = EVENTS[template].model_copy(update={"seats": 1})
        single = " ".join(mail(template, "it", one).text.split())
        assert "Il posto riservato è di nuovo disponibile" in single
        english = " ".join(mail(template, "en").text.split())
        assert "The 2 seats we were holding are available again" in english

    def test_a_capacity_cut_tells_the_provider_what_happened(self) -> None:
        """cause capacity_reduced: the newest proposals go, confirmed matches stay."""
        cut = a_match(cause="capacity_reduced", next_step="rematch")
        text = " ".join(mail(Template.PROVIDER_CANCELLED, "it", cut).text.split())
        assert "Avete ridotto il numero di posti" in text
        assert "Gli abbinamenti già confermati restano validi" in text

    @pytest.mark.parametrize("reason", list(NotFoundReason))
    @pytest.mark.parametrize("lang", LANGS)
    def test_the_waiting_mail_says_why_in_words(self, reason: NotFoundReason, lang: str) -> None:
        """Every not-found reason is said in words, never as its code, and a new mail is
        promised."""
        rendered = mail(Template.REQUESTER_WAITING, lang, not_found(reason=reason.value))
        text = " ".join(rendered.text.split())
        assert "_" not in text
        why = text.split("adatta: " if lang == "it" else "fits it: ")[1].split(".")[0]
        assert why != reason.value
        assert len(why.split()) >= 5
        assert ("nuova e-mail" if lang == "it" else "a new e-mail") in text


class TestHostileInput:
    @pytest.mark.parametrize("evil", ["Mallory\r\nBcc: victim@example.org", "Mallory\nBcc: x@y"])
    def test_cr_and_lf_never_reach_a_header(self, evil: str) -> None:
        """A name or title with CR/LF cannot inject a header (e.g. Bcc)."""
        match = a_match()
        assert match.offer is not None
        offer = match.offer.model_copy(update={"title": f"Corso {evil}"}).model_dump()
        request = MailRequest(
            template=Template.REQUESTER_MATCH,
            match=a_match(offer=offer),
            recipient_name=evil,
            lang="it",
            other=Contact(evil, "coop@example.org"),
            answer_url=REQUESTER_LINK,
        )
        msg = as_message(render(compose(request)), Contact(evil, "giulia@example.org"))
        parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
        assert parsed["Bcc"] is None
        assert "\n" not in str(parsed["Subject"])
        assert "\r" not in str(parsed["To"])
        assert parsed["To"].addresses[0].addr_spec == "giulia@example.org"

    def test_html_part_escapes_user_text(self) -> None:
        """Markup in a title or name is shown as text in the HTML part, not interpreted."""
        match = a_match()
        assert match.offer is not None
        offer = match.offer.model_copy(update={"title": "<script>alert(1)</script>"}).model_dump()
        request = MailRequest(
            template=Template.REQUESTER_MATCH,
            match=a_match(offer=offer),
            recipient_name="<b>Eve</b>",
            lang="en",
            other=Contact("A & B", "ab@example.org"),
            answer_url=REQUESTER_LINK,
            footer_url=FOOTER,
        )
        html = render(compose(request)).html
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;b&gt;Eve&lt;/b&gt;" in html
        assert "A &amp; B" in html
        assert "<br>" in html  # the separator before the footer, ours, stays markup


class TestMessage:
    def test_headers_carry_names_message_id_and_date(self) -> None:
        """To has the display name, the Message-ID derives from the job id, Date is set."""
        msg = as_message(mail(Template.REQUESTER_MATCH))
        assert msg["To"].addresses[0].display_name == "Giulia Rossi"
        assert msg["To"].addresses[0].addr_spec == "giulia@example.org"
        assert msg["Message-ID"] == "<job-1@concilia.example>"
        assert msg["Date"].datetime == NOW
        assert msg.get_content_type() == "multipart/alternative"


class TestMessageId:
    def test_the_same_job_always_gets_the_same_message_id(self) -> None:
        """A resend of one job is recognisable: same Message-ID, on the sender's domain."""
        assert message_id("abc", MAIL_FROM) == message_id("abc", MAIL_FROM)
        assert message_id("abc", MAIL_FROM) == "<abc@concilia.example>"
        assert message_id("abc", MAIL_FROM) != message_id("abd", MAIL_FROM)
