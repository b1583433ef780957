"""The notifier's e-mails: words, templates and the RFC 5322 message, without any I/O."""

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from concilia.contract.common import WeeklySlot
from services.notifier.domain import wording
from services.notifier.domain.message import build_message, message_id, render
from services.notifier.domain.views import provider_view, requester_view
from tests.support.notifications import a_match

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
MAIL_FROM = "Concilia Isola <noreply@concilia.example>"


def requester_mail(lang: str = "it", **overrides: Any) -> EmailMessage:
    view = requester_view(
        a_match(**overrides),
        recipient_name="Giulia Rossi",
        provider_name="Cooperativa Isola Ragazzi",
        lang=lang,
        base_url="https://concilia.example",
    )
    return build_message(
        job_id="job-1",
        mail_from=MAIL_FROM,
        to_name="Giulia Rossi",
        to_email="giulia@example.org",
        mail=render("requester_match", view),
        now=NOW,
    )


def provider_mail(lang: str = "it", **overrides: Any) -> EmailMessage:
    view = provider_view(a_match(**overrides), recipient_name="Cooperativa Isola", lang=lang)
    return build_message(
        job_id="job-2",
        mail_from=MAIL_FROM,
        to_name="Cooperativa Isola",
        to_email="coop@example.org",
        mail=render("provider_match", view),
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

    def test_an_unknown_contact_language_falls_back_to_italian(self) -> None:
        """Only it and en have templates; anything else reads Italian."""
        assert wording.language_of("de") == "it"
        assert wording.language_of("en") == "en"


class TestRequesterMail:
    def test_the_italian_mail_says_what_where_when_how_much_and_why(self) -> None:
        """Title, provider, address, hours, price, welfare and the reasons in plain words."""
        text, html = parts(requester_mail("it"))
        for expected in (
            "Doposcuola in Isola",
            "Cooperativa Isola Ragazzi (coop-isola)",
            "Piazzale Archinto 1, 20159 Milano",
            "lunedì, martedì, mercoledì 14:00–19:00",
            "120 € al mese, pagabile con i crediti welfare",
            "a 0,4 km da te",
            "copre tutti i 2 orari richiesti",
            "entro il tuo budget di 200 €",
            "adatto a chi ha 8 anni",
        ):
            assert expected in text
            assert expected in html

    def test_the_english_mail_is_in_english(self) -> None:
        """A requester whose language is en reads English words and numbers."""
        msg = requester_mail("en")
        text, _ = parts(msg)
        assert msg["Subject"] == "We found a service for you: Doposcuola in Isola"
        assert "0.4 km from you" in text
        assert "covers all 2 time slots" in text
        assert "within your budget of €200" in text
        assert "Monday, Tuesday, Wednesday 14:00–19:00" in text

    def test_a_remote_offer_is_said_to_be_online(self) -> None:
        """No address for a remote offer: `a distanza (online)` instead."""
        match = a_match()
        assert match.offer is not None
        remote = match.offer.model_copy(update={"remote": True, "address": None})
        text, _ = parts(requester_mail("it", offer=remote.model_dump()))
        assert "Dove: a distanza (online)" in text

    def test_a_remote_match_says_no_travel_is_needed(self) -> None:
        """The matcher's `remote` code, not a distance, explains a remote proposal."""
        reasons = {"codes": ["remote", "availability_covered"], "distance_km": None}
        text, _ = parts(requester_mail("en", reasons=reasons))
        assert "remote, no travel needed" in text
        assert "km from you" not in text
        assert "budget" not in text

    def test_headers_carry_names_message_id_and_date(self) -> None:
        """To has the display name, the Message-ID derives from the job id, Date is set."""
        msg = requester_mail("it")
        assert msg["To"].addresses[0].display_name == "Giulia Rossi"
        assert msg["To"].addresses[0].addr_spec == "giulia@example.org"
        assert msg["Message-ID"] == "<job-1@concilia.example>"
        assert msg["Date"].datetime == NOW
        assert msg.get_content_type() == "multipart/alternative"


class TestProviderMail:
    def test_it_describes_the_request_without_the_requester(self) -> None:
        """Service label, seats, hours, distance and age, but no requester name or address."""
        msg = provider_mail("it")
        text, html = parts(msg)
        for expected in (
            "Servizio richiesto: Doposcuola",
            "Posti: 2",
            "lunedì, mercoledì 16:30–18:30",
            "a 0,4 km dalla vostra sede",
            "Età del beneficiario: 8 anni",
        ):
            assert expected in text
        assert "@" not in text
        assert "@" not in html
        assert "i dati di contatto saranno condivisi quando l'abbinamento sarà confermato" in text

    def test_it_can_be_in_english(self) -> None:
        """A provider whose contact language is en reads English."""
        text, _ = parts(provider_mail("en"))
        assert "Service requested: After-school care" in text
        assert "Beneficiary's age: 8 years" in text


class TestHostileInput:
    @pytest.mark.parametrize("evil", ["Mallory\r\nBcc: victim@example.org", "Mallory\nBcc: x@y"])
    def test_cr_and_lf_never_reach_a_header(self, evil: str) -> None:
        """A name or title with CR/LF cannot inject a header (e.g. Bcc)."""
        match = a_match()
        assert match.offer is not None
        offer = match.offer.model_copy(update={"title": f"Corso {evil}"}).model_dump()
        view = requester_view(
            a_match(offer=offer),
            recipient_name=evil,
            provider_name=evil,
            lang="it",
            base_url="https://concilia.example",
        )
        msg = build_message(
            job_id="job-1",
            mail_from=MAIL_FROM,
            to_name=evil,
            to_email="giulia@example.org",
            mail=render("requester_match", view),
            now=NOW,
        )
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
        view = requester_view(
            a_match(offer=offer),
            recipient_name="<b>Eve</b>",
            provider_name="A & B",
            lang="en",
            base_url="https://concilia.example",
        )
        html = render("requester_match", view).html
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;b&gt;Eve&lt;/b&gt;" in html
        assert "A &amp; B" in html
        assert "<br>" in html  # the separator of the hours, ours, stays markup


class TestMessageId:
    def test_the_same_job_always_gets_the_same_message_id(self) -> None:
        """A resend of one job is recognisable: same Message-ID, on the sender's domain."""
        assert message_id("abc", MAIL_FROM) == message_id("abc", MAIL_FROM)
        assert message_id("abc", MAIL_FROM) == "<abc@concilia.example>"
        assert message_id("abc", MAIL_FROM) != message_id("abd", MAIL_FROM)
