"""The rule both parties answer by, and the words of the link pages, without I/O."""

from datetime import UTC, datetime, timedelta

import pytest

from concilia.contract.matches import Answer, Party
from concilia.platform.answers import AnswerRefused, Refusal, is_new_answer
from concilia.platform.link_pages import LinkView, hours_words, price_words, render, when

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPEN_UNTIL = NOW + timedelta(hours=1)


class TestAnswerRule:
    def test_a_first_answer_is_new_and_a_repeat_is_not(self) -> None:
        """No answer yet: new; the same answer again: not new (200, no event)."""
        assert is_new_answer("proposed", None, Answer.ACCEPTED, OPEN_UNTIL, NOW)
        assert not is_new_answer("proposed", "accepted", Answer.ACCEPTED, OPEN_UNTIL, NOW)

    @pytest.mark.parametrize(
        ("state", "given", "expires_at", "refusal"),
        [
            ("proposed", "accepted", OPEN_UNTIL, Refusal.ANSWERED),
            ("declined", None, OPEN_UNTIL, Refusal.ENDED),
            ("cancelled", "declined", OPEN_UNTIL, Refusal.ENDED),
            (None, None, OPEN_UNTIL, Refusal.ENDED),
            ("proposed", None, NOW - timedelta(seconds=1), Refusal.CLOSED),
        ],
    )
    def test_refusals_name_their_reason(
        self, state: str | None, given: str | None, expires_at: datetime, refusal: Refusal
    ) -> None:
        """A different answer, an ended or unknown match, a closed window: refused."""
        with pytest.raises(AnswerRefused) as caught:
            is_new_answer(state, given, Answer.DECLINED, expires_at, NOW)
        assert caught.value.refusal is refusal

    def test_an_accepted_match_never_closes(self) -> None:
        """Both accepted: repeating the answer stays fine after the window."""
        late = NOW + timedelta(days=10)
        assert not is_new_answer("accepted", "accepted", Answer.ACCEPTED, OPEN_UNTIL, late)

    def test_a_link_is_single_use(self) -> None:
        """Through a link, even the same answer again is refused."""
        with pytest.raises(AnswerRefused) as caught:
            is_new_answer("proposed", "accepted", Answer.ACCEPTED, OPEN_UNTIL, NOW, single_use=True)
        assert caught.value.refusal is Refusal.ANSWERED


class TestWords:
    def test_hours_are_in_week_order_in_each_language(self) -> None:
        """Days by name, in order, with an en dash between the times."""
        slots = [
            {"day": "wed", "start": "16:30", "end": "18:30"},
            {"day": "mon", "start": "14:00", "end": "19:00"},
        ]
        assert hours_words(slots, "it") == "lunedì 14:00–19:00; mercoledì 16:30–18:30"
        assert hours_words(slots, "en") == "Monday 14:00–19:00; Wednesday 16:30–18:30"

    def test_prices_read_naturally(self) -> None:
        """Italian puts the euro after the amount with a comma; free is said in words."""
        assert price_words(120, "month", True, "it") == (
            "120 € al mese, pagabile con i crediti welfare"
        )
        assert price_words(12.5, "session", False, "en") == (
            "€12.50 per session, not payable with welfare credits"
        )
        assert price_words(0, "month", False, "it") == "gratuito"

    def test_deadlines_are_in_rome_time(self) -> None:
        """09:00 UTC in March is 10:00 in Milan, said as the e-mail says it."""
        assert when(NOW, "it") == "lunedì 2 marzo alle 10:00"
        assert when(NOW, "en") == "Monday 2 March at 10:00 (Italian time)"


class TestPages:
    def test_user_text_is_escaped_and_there_is_no_script(self) -> None:
        """A title with markup shows as text; the page carries no JavaScript."""
        view = LinkView(lang="en", heading="<b>Hi</b>", rows=[("Offer", "<script>x</script>")])
        response = render(200, "answer_page.html.j2", view, Party.REQUESTER, token="t")
        html = bytes(response.body).decode()
        assert "&lt;script&gt;" in html
        assert "<script" not in html
        assert 'value="accept"' in html
        assert 'value="decline"' in html

    def test_a_status_page_without_a_language_speaks_both(self) -> None:
        """A tampered link tells its reader in Italian and in English."""
        html = bytes(
            render(
                400, "answer_status.html.j2", LinkView(lang=""), Party.PROVIDER, reason="tampered"
            ).body
        )
        assert "Questo link non è valido." in html.decode()
        assert "This link is not valid." in html.decode()

    @pytest.mark.parametrize(
        ("party", "page", "extra", "expected"),
        [
            (Party.REQUESTER, "answer_page.html.j2", {"token": "t"}, "Puoi rispondere una sola"),
            (Party.PROVIDER, "answer_page.html.j2", {"token": "t"}, "Potete rispondere una sola"),
            (Party.REQUESTER, "answer_done.html.j2", {"answer": "accept"}, "la tua risposta"),
            (Party.PROVIDER, "answer_done.html.j2", {"answer": "accept"}, "la vostra risposta"),
            (Party.REQUESTER, "answer_status.html.j2", {"reason": "answered"}, "Hai già risposto"),
            (Party.PROVIDER, "answer_status.html.j2", {"reason": "answered"}, "Avete già risposto"),
        ],
    )
    def test_each_party_is_addressed_as_in_its_e_mails(
        self, party: Party, page: str, extra: dict[str, str], expected: str
    ) -> None:
        """A requester is a person ("tu"), a provider an organisation ("voi"), on every page."""
        html = bytes(render(200, page, LinkView(lang="it"), party, **extra).body).decode()
        assert expected in html
        other = {"Puoi": "Potete", "tua": "vostra", "Hai": "Avete"}
        for mine, theirs in other.items():
            unwanted = theirs if party is Party.REQUESTER else mine
            assert f"{unwanted} " not in html
