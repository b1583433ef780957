"""Bad input refused by the contract models before anything is stored: strict numbers and
booleans, control and bidi characters in one-line texts, undeliverable e-mail addresses."""

from typing import Any

import pytest
from pydantic import ValidationError

from concilia.contract.demands import DemandCreate
from concilia.contract.offers import OfferCreate, OfferUpdate
from tests.support.factories import a_demand, an_offer


def offer_with(**fields: Any) -> OfferCreate:
    return OfferCreate.model_validate({**an_offer(), **fields})


class TestStrictTypes:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("capacity", True),
            ("capacity", "3"),
            ("capacity", 2.0),
            ("price_eur", "1.5"),
            ("price_eur", False),
            ("welfare_eligible", 1),
            ("welfare_eligible", "yes"),
            ("remote", 0),
            ("min_age", True),
        ],
    )
    def test_a_number_or_boolean_of_the_wrong_json_type_is_refused(
        self, field: str, value: object
    ) -> None:
        """`"capacity": true` and its kind are errors, not silently converted values."""
        with pytest.raises(ValidationError) as caught:
            offer_with(**{field: value})
        assert caught.value.errors()[0]["loc"][0] == field

    def test_an_integer_is_still_a_valid_price_and_a_coordinate(self) -> None:
        """JSON has one number type: 12 is a fine price and 45 a fine latitude."""
        offer = offer_with(
            price_eur=12, location={"address": "Via Borsieri 1", "lat": 45, "lon": 9}
        )
        assert offer.price_eur == 12

    def test_a_coordinate_given_as_a_boolean_is_refused(self) -> None:
        """`"lat": true` is not latitude 1."""
        with pytest.raises(ValidationError):
            offer_with(location={"address": "Via Borsieri 1", "lat": True, "lon": 9.19})

    def test_a_seat_count_given_as_a_string_is_refused_on_demands(self) -> None:
        """The demand's numbers are strict too."""
        with pytest.raises(ValidationError):
            DemandCreate.model_validate({**a_demand(), "seats": "2"})


class TestOneLineTexts:
    @pytest.mark.parametrize("breaker", ["\v", "\f", "\u2028", "\u2029", "\x85", "\t", "\r\n"])
    def test_a_line_break_of_any_kind_in_a_title_becomes_a_space(self, breaker: str) -> None:
        """A Word soft line break (VT), U+2028 or NEL is flattened like CR/LF, so the title
        is safe in a mail subject."""
        offer = offer_with(title=f"Doposcuola{breaker}Isola")
        assert offer.title == "Doposcuola Isola"

    @pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\u202e", "\u2066", "\x7f", "\u200f"])
    def test_a_control_or_bidi_override_character_in_a_title_is_refused(self, bad: str) -> None:
        """NUL, ESC, DEL and bidi controls never reach an e-mail subject: 422 names the field."""
        with pytest.raises(ValidationError) as caught:
            offer_with(title=f"Doposcuola {bad} Isola")
        assert caught.value.errors()[0]["loc"] == ("title",)

    def test_a_contact_name_with_a_bidi_override_is_refused(self) -> None:
        """Names are one-line texts too."""
        with pytest.raises(ValidationError):
            offer_with(contact={"name": "Anna \u202eartsiger", "email": "anna@example.org"})

    def test_a_description_keeps_its_lines_but_not_control_characters(self) -> None:
        """Descriptions may have several lines; NUL and bidi overrides are still refused."""
        assert offer_with(description="Line one\nLine two").description == "Line one\nLine two"
        with pytest.raises(ValidationError):
            offer_with(description="Line one\x00")
        with pytest.raises(ValidationError):
            OfferUpdate.model_validate({"description": "x\u202ey"})


class TestEmailAddresses:
    def test_an_address_with_a_non_ascii_local_part_is_refused(self) -> None:
        """`jörg@exämple.org` needs SMTPUTF8 all the way; it is refused with a clear error
        instead of being accepted and never delivered."""
        with pytest.raises(ValidationError) as caught:
            offer_with(contact={"name": "Jörg", "email": "jörg@exämple.org"})
        assert "ASCII" in str(caught.value)

    def test_an_internationalised_domain_is_kept_in_its_ascii_form(self) -> None:
        """A domain in Unicode is deliverable as IDNA (punycode): it is stored that way."""
        offer = offer_with(contact={"name": "Jörg", "email": "joerg@exämple.org"})
        assert offer.contact.email == "joerg@xn--exmple-cua.org"


class TestRulesAcrossFields:
    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"remote": False, "location": None}, "location"),
            ({"valid_from": "2026-05-01", "valid_until": "2026-04-30"}, "valid_until"),
            ({"min_age": 10, "max_age": 5}, "max_age"),
        ],
    )
    def test_an_offer_breaking_one_names_the_field_at_fault(
        self, fields: dict[str, Any], named: str
    ) -> None:
        """A 422 names each bad field: the one whose value breaks the rule, not `body`."""
        with pytest.raises(ValidationError) as caught:
            offer_with(**fields)
        assert [error["loc"] for error in caught.value.errors()] == [(named,)]

    def test_a_remote_offer_needs_no_location(self) -> None:
        """Remote service: no place needed."""
        assert offer_with(remote=True, location=None).location is None
