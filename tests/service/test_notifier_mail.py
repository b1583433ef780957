"""The notifier against the real embedded Kafka, MongoDB and SMTP sink."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from concilia.contract import topics
from concilia.contract.matches import Party
from concilia.platform.answer_links import LinkSigner
from services.notifier.app import create_app
from tests.conftest import JWT_SECRET
from tests.support.kafka import produce
from tests.support.notifier import (
    DEMANDS_URL,
    OFFERS_URL,
    Mongo,
    Parties,
    answer_links,
    events_for,
    html_of,
    mails_arrived,
    mails_to,
    notifications_of,
    send_contact,
    settings_for,
    text_of,
    with_subject,
)
from tests.support.services import serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


@pytest.fixture
async def notifier(
    kafka: str, mongodb: str, smtp: tuple[int, Path], database_name: str
) -> AsyncIterator[str]:
    """The notifier, in-process, writing to the module's SMTP sink."""
    async with serving(create_app(settings_for(kafka, mongodb, database_name, smtp[0]))) as url:
        yield url


class TestBothPartiesAreMailed:
    async def test_a_match_sends_one_mail_to_each_party(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """Contacts then a match: one mail each, requester in English, and two
        notification.sent events that carry no name or address."""
        _, mail_dir = smtp
        parties = Parties()
        await parties.send_contacts(kafka)
        await parties.send_match(kafka)

        await eventually(
            lambda: mails_arrived(mail_dir, *parties.addresses()), timeout=60, what="both mails"
        )
        ours = await events_for(kafka, "notification.sent", parties.match_id, 2)
        assert sorted(e["data"]["template"] for e in ours) == ["provider_match", "requester_match"]
        (requester,) = mails_to(mail_dir, parties.requester_email)
        (provider,) = mails_to(mail_dir, parties.provider_email)
        assert requester["Subject"] == "We found a service for you: Doposcuola in Isola"
        assert "0.4 km from you" in text_of(requester)
        assert "Provided by: Coop Isola" in text_of(requester)
        assert "coop-isola" not in text_of(requester)
        assert provider["Subject"].startswith("Nuova richiesta per la vostra offerta")
        assert "Jane" not in text_of(provider)
        assert parties.requester_email not in text_of(provider)
        assert "@" not in text_of(requester) + text_of(provider)
        for raw in await notifications_of(kafka, parties.match_id):
            for secret in (*parties.addresses(), "Jane", "Coop Isola", "example.org"):
                assert secret.encode() not in raw

    async def test_a_redelivered_match_sends_no_second_email(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """The same match produced twice still sends one mail per party."""
        _, mail_dir = smtp
        parties, marker = Parties(), Parties()
        await parties.send_contacts(kafka)
        await marker.send_contacts(kafka)
        await parties.send_match(kafka)
        await parties.send_match(kafka)
        # Same key, same partition: once the marker's mails are out, both copies were handled.
        await marker.send_match(kafka)

        await eventually(
            lambda: mails_arrived(mail_dir, *marker.addresses(), *parties.addresses()),
            timeout=60,
            what="the marker's and the party's mails",
        )
        assert len(mails_to(mail_dir, parties.requester_email)) == 1
        assert len(mails_to(mail_dir, parties.provider_email)) == 1

    async def test_a_match_before_its_contacts_waits_for_them(
        self,
        kafka: str,
        notifier: str,
        smtp: tuple[int, Path],
        mongo_client: Mongo,
        database_name: str,
    ) -> None:
        """A match whose contacts are unknown is kept, and mailed once they arrive."""
        _, mail_dir = smtp
        parties = Parties()
        await parties.send_match(kafka)
        jobs = mongo_client[database_name]["notification_jobs"]

        async def both_jobs_waiting() -> bool:
            waiting = await jobs.count_documents(
                {"match_id": parties.match_id, "status": "pending", "waiting_for": {"$ne": None}}
            )
            return waiting == 2

        await eventually(both_jobs_waiting, timeout=60, what="two jobs waiting for contacts")
        assert not mails_to(mail_dir, parties.requester_email)

        await parties.send_contacts(kafka)
        await eventually(
            lambda: mails_arrived(mail_dir, *parties.addresses()), timeout=60, what="both mails"
        )

        async def both_sent() -> bool:
            statuses = [j["status"] async for j in jobs.find({"match_id": parties.match_id})]
            return statuses == ["sent", "sent"]

        # The mail lands in the sink a moment before the job is marked sent.
        await eventually(both_sent, timeout=30, what="both jobs marked sent")


class TestAnswerLinks:
    async def test_each_proposal_holds_only_its_reader_s_own_signed_link(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """The requester's mail links to the demands service, the provider's to the offers
        service, each on its own line, each token readable for that party only."""
        _, mail_dir = smtp
        parties = Parties()
        await parties.send_contacts(kafka)
        await parties.send_match(kafka)
        await eventually(
            lambda: mails_arrived(mail_dir, *parties.addresses()), timeout=60, what="both mails"
        )
        (requester,) = mails_to(mail_dir, parties.requester_email)
        (provider,) = mails_to(mail_dir, parties.provider_email)
        signer = LinkSigner(JWT_SECRET)
        (own,) = answer_links(text_of(requester))
        assert own in text_of(requester).splitlines()
        assert own.startswith(f"{DEMANDS_URL}/r/")
        assert f'href="{own}"' in html_of(requester)
        claims = signer.read(own.rpartition("/r/")[2], Party.REQUESTER)
        assert (claims.match_id, claims.record_id) == (parties.match_id, parties.demand_id)
        (theirs,) = answer_links(text_of(provider))
        assert theirs.startswith(f"{OFFERS_URL}/r/")
        claims = signer.read(theirs.rpartition("/r/")[2], Party.PROVIDER)
        assert (claims.match_id, claims.record_id) == (parties.match_id, parties.offer_id)
        assert theirs not in text_of(requester) + html_of(requester)
        assert own not in text_of(provider) + html_of(provider)


class TestLifecycle:
    async def test_an_accepted_match_reveals_each_side_s_contact_to_the_other(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """match.proposed then match.accepted: two mails each; only the accepted ones name
        the other side and give its e-mail address, and they hold no answer link."""
        _, mail_dir = smtp
        parties = Parties()
        await parties.send_match(kafka)
        await parties.send_match(
            kafka, "match.accepted", state="accepted", requester_answer="accepted"
        )
        await parties.send_contacts(kafka)

        async def four_mails() -> bool:
            found = [mails_to(mail_dir, a) for a in parties.addresses()]
            return all(len(m) == 2 for m in found)

        await eventually(four_mails, timeout=60, what="two mails for each party")
        requester_mails = mails_to(mail_dir, parties.requester_email)
        provider_mails = mails_to(mail_dir, parties.provider_email)
        (proposal,) = with_subject(requester_mails, "We found a service for you")
        (accepted,) = with_subject(requester_mails, "Match confirmed")
        assert parties.provider_email not in text_of(proposal) + html_of(proposal)
        assert "Dear Jane Smith," in text_of(accepted)
        assert "Provider: Coop Isola" in text_of(accepted)
        assert f"E-mail: {parties.provider_email}" in text_of(accepted)
        assert answer_links(text_of(accepted)) == []
        (offered,) = with_subject(provider_mails, "Nuova richiesta")
        (confirmed,) = with_subject(provider_mails, "Abbinamento confermato")
        assert "Jane" not in text_of(offered)
        assert "Gentile Coop Isola," in text_of(confirmed)
        assert "Nome: Jane Smith" in text_of(confirmed)
        assert f"E-mail: {parties.requester_email}" in text_of(confirmed)

    async def test_a_withdrawn_demand_tells_only_the_provider(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """match.cancelled with cause demand_withdrawn: the provider learns its seats are free,
        the requester, who withdrew, gets nothing more than the proposal."""
        _, mail_dir = smtp
        parties = Parties()
        await parties.send_contacts(kafka)
        await parties.send_match(kafka)
        await parties.send_match(
            kafka, "match.cancelled", state="cancelled", cause="demand_withdrawn", next_step="none"
        )

        async def all_mails() -> bool:
            requester = mails_to(mail_dir, parties.requester_email)
            return len(mails_to(mail_dir, parties.provider_email)) == 2 and len(requester) == 1

        await eventually(all_mails, timeout=60, what="the provider's two mails, one proposal")
        (cancelled,) = with_subject(mails_to(mail_dir, parties.provider_email), "Abbinamento")
        assert "I 2 posti riservati sono di nuovo disponibili" in " ".join(
            text_of(cancelled).split()
        )
        assert with_subject(mails_to(mail_dir, parties.requester_email), "Match") == []

    async def test_a_demand_waiting_twice_gets_one_mail(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """Two match.not_found for one demand (two match ids): one waiting mail."""
        _, mail_dir = smtp
        parties, marker = Parties(), Parties()
        await parties.send_contacts(kafka)
        await marker.send_contacts(kafka)
        await parties.send_not_found(kafka, f"{parties.match_id}-a")
        await parties.send_not_found(kafka, f"{parties.match_id}-b")
        # Same key, same partition: once the marker's mail is out, both were handled.
        await marker.send_not_found(kafka, marker.match_id)

        await eventually(
            lambda: mails_arrived(mail_dir, marker.requester_email, parties.requester_email),
            timeout=60,
            what="the marker's and the party's waiting mails",
        )
        (waiting,) = mails_to(mail_dir, parties.requester_email)
        assert waiting["Subject"] == "Your request is on hold: After-school care"
        assert "your request for after-school care" in " ".join(text_of(waiting).split())
        assert "too far" in text_of(waiting)


class TestTheWaitingMail:
    async def test_is_held_back_and_a_proposal_meanwhile_makes_it_moot(
        self,
        kafka: str,
        mongodb: str,
        smtp: tuple[int, Path],
        database_name: str,
        mongo_client: Mongo,
    ) -> None:
        """A demand answered not_found then proposed within the delay: the family gets the
        proposal only, and the held-back waiting mail is dropped as superseded."""
        _, mail_dir = smtp
        settings = settings_for(
            kafka, mongodb, database_name, smtp[0], waiting_mail_delay_seconds=30
        )
        async with serving(create_app(settings)):
            parties = Parties()
            await parties.send_contacts(kafka)
            await parties.send_not_found(kafka, f"{parties.match_id}-waiting")
            await parties.send_match(kafka)

            await eventually(
                lambda: mails_arrived(mail_dir, *parties.addresses()), timeout=60, what="mails"
            )
            jobs = mongo_client[database_name]["notification_jobs"]
            waiting = await eventually(
                lambda: jobs.find_one({"template": "requester_waiting", "status": "dropped"}),
                timeout=30,
                what="the waiting mail dropped",
            )

        assert waiting["last_error"] == "superseded"
        [only] = mails_to(mail_dir, parties.requester_email)
        assert "waiting" not in str(only["Subject"]).lower()


class TestContacts:
    async def test_a_tombstone_erases_the_contact(
        self, kafka: str, notifier: str, mongo_client: Mongo, database_name: str
    ) -> None:
        """A null value for a contact's key deletes the stored contact."""
        ref = f"req-{uuid.uuid4().hex[:8]}"
        contacts = mongo_client[database_name]["contacts"]
        await send_contact(kafka, ref, "Jane Smith", f"{ref}@example.org", "en")
        await eventually(
            lambda: contacts.find_one({"_id": ref}), timeout=60, what="the contact stored"
        )

        await produce(kafka, topics.CONTACTS, None, key=ref)

        async def erased() -> bool:
            return await contacts.find_one({"_id": ref}) is None

        await eventually(erased, timeout=60, what="the contact erased")

    async def test_a_tombstone_drops_the_mails_that_need_the_erased_contact(
        self,
        kafka: str,
        notifier: str,
        smtp: tuple[int, Path],
        mongo_client: Mongo,
        database_name: str,
    ) -> None:
        """match.accepted while the provider's contact is unknown: both mails wait for it;
        once it is erased they are dropped (nothing waits for ever, nothing is sent)."""
        _, mail_dir = smtp
        parties = Parties()
        jobs = mongo_client[database_name]["notification_jobs"]
        await send_contact(
            kafka, parties.requester_ref, "Jane Smith", parties.requester_email, "en"
        )
        await parties.send_match(kafka, "match.accepted", state="accepted")

        async def both_waiting_for_the_provider() -> bool:
            waiting = {"match_id": parties.match_id, "waiting_for": parties.provider_ref}
            return await jobs.count_documents(waiting) == 2

        await eventually(both_waiting_for_the_provider, timeout=60, what="two waiting jobs")
        await produce(kafka, topics.CONTACTS, None, key=parties.provider_ref)

        async def both_dropped() -> bool:
            docs = await jobs.find({"match_id": parties.match_id}).to_list()
            return sorted(d["status"] for d in docs) == ["dropped", "dropped"]

        await eventually(both_dropped, timeout=60, what="both jobs dropped")
        assert mails_to(mail_dir, parties.requester_email) == []
        assert await notifications_of(kafka, parties.match_id) == []

    async def test_a_mail_planned_after_its_reader_was_erased_is_dropped(
        self,
        kafka: str,
        notifier: str,
        smtp: tuple[int, Path],
        mongo_client: Mongo,
        database_name: str,
    ) -> None:
        """A match event that arrives after its requester's tombstone plans a mail nobody can
        get: the dispatcher drops it instead of waiting for the contact."""
        _, mail_dir = smtp
        parties = Parties()
        jobs = mongo_client[database_name]["notification_jobs"]
        requester = (parties.requester_ref, "Jane Smith", parties.requester_email, "en")
        await send_contact(kafka, *requester)
        await produce(kafka, topics.CONTACTS, None, key=parties.requester_ref)
        erased = mongo_client[database_name]["erased_contacts"]
        # Topics are not ordered with each other: let the erasure land first.
        await eventually(
            lambda: erased.find_one({"_id": parties.requester_ref}), timeout=60, what="erasure"
        )
        await parties.send_not_found(kafka, parties.match_id)

        async def dropped() -> bool:
            job = await jobs.find_one({"match_id": parties.match_id})
            return job is not None and job["status"] == "dropped"

        await eventually(dropped, timeout=60, what="the waiting mail dropped")
        assert mails_to(mail_dir, parties.requester_email) == []

    async def test_a_proposal_goes_out_without_the_name_of_an_erased_provider(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """The provider's name is only nice to have in the requester's proposal: once its
        contact is erased, the mail goes out naming the offer instead of waiting."""
        _, mail_dir = smtp
        parties = Parties()
        requester = (parties.requester_ref, "Jane Smith", parties.requester_email, "en")
        await send_contact(kafka, *requester)
        await produce(kafka, topics.CONTACTS, None, key=parties.provider_ref)
        await parties.send_match(kafka)

        (proposal,) = await eventually(
            lambda: mails_to(mail_dir, parties.requester_email), timeout=60, what="the proposal"
        )
        assert "Provided by" not in text_of(proposal)
        assert "Doposcuola in Isola" in text_of(proposal)
