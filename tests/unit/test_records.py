"""Shared record-keeping helpers without I/O: cursors, If-Match, idempotency fingerprints."""

from datetime import UTC, datetime

import pytest

from concilia.platform.changes import InvalidChange
from concilia.platform.record_api import parse_if_match
from concilia.platform.records import IdempotencyKey, decode_cursor, encode_cursor, where


class TestCursors:
    def test_a_cursor_round_trips_the_last_position(self) -> None:
        """The opaque cursor holds creation time and id of the last record of a page."""
        at = datetime(2026, 3, 2, 9, 0, 0, 123000, tzinfo=UTC)
        assert decode_cursor(encode_cursor({"created_at": at, "_id": "off_1"})) == (at, "off_1")

    @pytest.mark.parametrize("forged", ["not-a-cursor", "e30", "!!!"])
    def test_a_forged_cursor_is_invalid_input_naming_cursor(self, forged: str) -> None:
        """Anything the API did not issue is a 422 on `cursor`."""
        with pytest.raises(InvalidChange) as caught:
            decode_cursor(forged)
        assert caught.value.errors[0]["field"] == "cursor"


class TestIfMatch:
    @pytest.mark.parametrize(("header", "version"), [("3", 3), ('"3"', 3), ('W/"12"', 12)])
    def test_a_version_is_read_plain_quoted_or_weak(self, header: str, version: int) -> None:
        """Clients may send the ETag as given or the bare version."""
        assert parse_if_match(header) == version

    def test_no_header_means_no_precondition(self) -> None:
        """Absent If-Match: last write wins."""
        assert parse_if_match(None) is None

    def test_a_non_version_is_invalid(self) -> None:
        """If-Match: * or garbage is a 422 naming the header."""
        with pytest.raises(InvalidChange):
            parse_if_match("*")


class TestIdempotencyKeys:
    def test_the_fingerprint_ignores_key_order_but_not_values(self) -> None:
        """Same body in another order is the same request; another value is not."""
        one = IdempotencyKey.of("acme", "k", {"a": 1, "b": 2})
        same = IdempotencyKey.of("acme", "k", {"b": 2, "a": 1})
        other = IdempotencyKey.of("acme", "k", {"a": 1, "b": 3})
        assert one.fingerprint == same.fingerprint != other.fingerprint

    def test_keys_are_scoped_by_organisation(self) -> None:
        """The same key from two organisations names two records."""
        assert IdempotencyKey.of("a", "k", {}).id != IdempotencyKey.of("b", "k", {}).id


class TestFilters:
    def test_absent_filters_are_dropped(self) -> None:
        """Only given fields narrow the list; the scope always applies."""
        assert where({"organization_id": "acme"}, status="open", service_type=None) == {
            "organization_id": "acme",
            "status": "open",
        }
