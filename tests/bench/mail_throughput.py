"""How many e-mails a minute one notifier dispatcher sends, and what each costs the
database, with `MAIL_DUE` jobs due (default 1,000) beside `MAIL_HISTORY` already sent (default
5,000: the ledger's history, which the queries must not read). Real SecantusDB and SMTP
sink, on free ports. `python -m tests.bench.mail_throughput` prints one JSON object; not
part of `make test` or `make bench` (whose last line is the matcher's)."""

import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from concilia.embedded.processes import free_port
from concilia.embedded.servers import start_mongodb, start_smtp_sink
from concilia.platform.answer_links import LinkSigner
from concilia.platform.faults import Backoff
from concilia.platform.mongo import connect
from services.notifier.dispatcher import Dispatcher, DispatchSettings
from services.notifier.domain.jobs import PlannedJob, RetryPolicy, job_id
from services.notifier.links import AnswerLinks
from services.notifier.mailer import SmtpMailer
from services.notifier.store import JOBS, Ledger, StoredContact
from tests.support.notifications import a_match

DUE = int(os.environ.get("MAIL_DUE", "1000"))
HISTORY = int(os.environ.get("MAIL_HISTORY", "5000"))
TEMPLATE = "requester_match"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fill(ledger: Ledger, count: int, now: datetime) -> list[str]:
    """`count` proposals to requesters, with both parties' contacts; their job ids."""
    ids = []
    for n in range(count):
        match = a_match(match_id=f"m-{n}", requester_ref=f"r-{n}", provider_ref=f"p-{n}")
        requester = StoredContact(f"r-{n}", f"Giulia {n}", f"giulia{n}@example.org", "it")
        provider = StoredContact(f"p-{n}", f"Coop {n}", f"coop{n}@example.org", "it")
        for contact in (requester, provider):
            await ledger.upsert_contact(contact, now)
        job = PlannedJob(job_id(f"m-{n}", f"r-{n}", TEMPLATE), f"m-{n}", f"r-{n}", TEMPLATE)
        await ledger.add_jobs([job], match.model_dump(mode="json"), now)
        ids.append(job.id)
    return ids


def dispatcher(ledger: Ledger, smtp_port: int) -> Dispatcher:
    links = AnswerLinks(LinkSigner("bench-" * 8), offers_url="http://o", demands_url="http://d")
    settings = DispatchSettings(
        mail_from="Concilia Isola <noreply@concilia.example>",
        base_url="http://127.0.0.1:8002",
        links=links,
        retry=RetryPolicy(),
        lease=timedelta(minutes=2),
        mention_grace=timedelta(0),
        poll_seconds=1,
        outage_backoff=Backoff(1, 10),
    )
    return Dispatcher(ledger, SmtpMailer("127.0.0.1", smtp_port), lambda: None, settings)


async def measure(home: Path) -> dict[str, float]:
    mongo_port, smtp_port = free_port(), free_port()
    mongodb = start_mongodb(mongo_port, home / "db", home)
    smtp = start_smtp_sink(smtp_port, home / "mail", home)
    client = connect(f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true")
    try:
        ledger = Ledger(client, client["bench"])
        await ledger.ensure_indexes()
        now = datetime.now(UTC)
        history = await fill(ledger, DUE + HISTORY, now)
        jobs = client["bench"][JOBS]
        await jobs.update_many({"_id": {"$in": history[DUE:]}}, {"$set": {"status": "sent"}})
        db_before, started = cpu_seconds(mongodb.pid or 0), time.monotonic()
        sent = await dispatcher(ledger, smtp_port).dispatch_due()
        seconds = time.monotonic() - started
        db_ms = (cpu_seconds(mongodb.pid or 0) - db_before) * 1000
        return {
            "due": DUE,
            "history": HISTORY,
            "sent": sent,
            "mails_per_minute": round(sent / seconds * 60),
            "db_cpu_ms_per_mail": round(db_ms / max(sent, 1), 1),
        }
    finally:
        await client.close()
        smtp.stop()
        mongodb.stop()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="concilia-mail-bench-") as home:
        print(json.dumps(asyncio.run(measure(Path(home)))))
