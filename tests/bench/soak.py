"""`make soak`: the long fault soak. The whole embedded stack takes a steady stream
of offers, demands, answers and withdrawals while every service is SIGKILLed at random
moments, the database is paused (SIGSTOP) once and restarted once, and the SMTP sink is
down for a while. Then Jepsen-style counters — lost, duplicated, overbooked, dead_lettered,
unexpected — all must be 0: a table, then one JSON line (with `events` and `kills`).

The long run (default): SOAK_EVENTS=10000, SOAK_KILLS=20, SOAK_DB_PAUSE=100 (s),
SOAK_SMTP_DOWN=60 (s), SOAK_CLIENTS=4 concurrent clients (one member organisation each), and
failpoints armed (concilia.platform.failpoints, SOAK_FAILPOINTS) so that some crashes land
exactly between an effect and its commit: after a consumer's transaction and before its offset
commit, inside the matcher's transaction (its documents stay locked until the database aborts
the abandoned transaction, after 60 s), after Kafka's ack and before the outbox mark, after
SMTP accepted a mail and before the ledger knows. `run(SHORT)` is the short version
`make test` runs (tests/service/test_faults_soak.py).

Client behaviour under faults: a request that fails with a connection error, a timeout or a
5xx is retried with the same Idempotency-Key (that is what the key is for); `unexpected`
counts answers a correct client should never get (any 4xx but 404/409/429) and 5xx once every
fault has ended.

`lost` counts records a 2xx created that are gone or never decided (an open demand with
neither a match nor a waiting reason), and e-mails the notifier's ledger
planned that never arrived (sent with no copy in the mailbox, failed, or never finished).
`duplicated` counts a second live match for one demand and a second copy of one e-mail,
except the copies the one known window explains: a mail the SMTP server accepted just before
the notifier died, resent when its lease ended. The ledger counts those resends on the job
(`uncertain_resends`); copies up to that count are reported as `window_duplicate_mails`
(measured, documented), any copy beyond it counts as `duplicated`."""

import asyncio
import contextlib
import email.parser
import functools
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from concilia.contract import topics
from concilia.embedded.processes import free_port, wait_until
from concilia.embedded.stack import MAIL_FROM, SERVICES, Ports, Stack
from concilia.platform.auth import issue_token
from concilia.platform.mongo import Document
from services.notifier.domain.message import message_id
from services.notifier.store import JOBS
from tests.support.factories import a_demand, an_offer
from tests.support.kafka import read_all
from tests.support.places import Place

SERVICE_TYPES = ("after_school", "sport", "elderly_care", "coworking")
FAILPOINTS = (
    "consumer.after_effect=0.0002,outbox.after_publish=0.0002,mail.after_send=0.0005,"
    "matcher.in_transaction=0.001"
)


@dataclass(frozen=True)
class Plan:
    events: int
    kills: int
    db_pause_seconds: float
    smtp_down_seconds: float
    settle_seconds: float
    clients: int = 1
    failpoints: str = ""


LONG = Plan(
    events=int(os.environ.get("SOAK_EVENTS", "10000")),
    kills=int(os.environ.get("SOAK_KILLS", "20")),
    db_pause_seconds=float(os.environ.get("SOAK_DB_PAUSE", "100")),
    smtp_down_seconds=float(os.environ.get("SOAK_SMTP_DOWN", "60")),
    settle_seconds=1800,
    clients=int(os.environ.get("SOAK_CLIENTS", "4")),
    failpoints=os.environ.get("SOAK_FAILPOINTS", FAILPOINTS),
)
SHORT = Plan(events=60, kills=3, db_pause_seconds=3, smtp_down_seconds=3, settle_seconds=120)


@dataclass
class Tally:
    events: int = 0
    kills: int = 0
    unexpected: list[str] = field(default_factory=list)
    faults_over: bool = False
    demands: list[str] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)
    withdrawn: set[str] = field(default_factory=set)
    provider_of: dict[str, "Client"] = field(default_factory=dict)  # offer id → its owner
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_event(self, total: int) -> bool:
        """Take the next event's turn; False once `total` events have been started."""
        with self.lock:
            if self.events >= total:
                return False
            self.events += 1
            return True


def place(rng: random.Random) -> Place:
    lat, lon = 45.489 + rng.uniform(-0.02, 0.02), 9.19 + rng.uniform(-0.02, 0.02)
    return Place("Via di prova 1, 20159 Milano", lat, lon)


class Client:
    """One role's HTTP client that waits faults out like a careful client would."""

    def __init__(self, base_url: str, token: str, tally: Tally) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.tally = tally

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        """The JSON answer; None for 404/409 (a race the client accepts)."""
        headers = {"Idempotency-Key": key} if key else {}
        delay = 0.2
        while True:
            try:
                response = self.http.request(method, path, json=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code < 300:
                return response.json()
            if response is not None and response.status_code in (404, 409):
                return None
            if response is not None and 400 <= response.status_code < 500:
                if response.status_code != 429:
                    self.tally.unexpected.append(f"{method} {path} → {response.status_code}")
                    return None
            elif response is not None and self.tally.faults_over:
                self.tally.unexpected.append(f"{method} {path} → {response.status_code}")
            time.sleep(delay)  # client backoff before retrying, not synchronisation
            delay = min(delay * 2, 5.0)


def faults(
    stack: Stack, plan: Plan, tally: Tally, rng: random.Random, done: threading.Event
) -> None:
    """Kills at random moments; the database paused once and restarted once; SMTP down once."""
    mongodb, smtp = stack.infra.children[1], stack.infra.children[2]
    at = sorted(rng.uniform(0.05, 0.9) for _ in range(plan.kills))
    schedule = [(x, "kill") for x in at] + [(0.3, "pause"), (0.55, "restart"), (0.75, "smtp")]
    for share, fault in sorted(schedule):
        wait_until(
            lambda s=share: done.is_set() or tally.events >= s * plan.events,  # type: ignore[misc]
            timeout=24 * 3600,
            what="the next fault",
            interval=0.05,
        )
        if fault == "kill":
            name = rng.choice(SERVICES)
            service = stack.services.get(name)
            if service is None:
                return  # the soak was interrupted: the stack is stopping
            service.child.kill(signal.SIGKILL)
            tally.kills += 1
            print(f"soak: SIGKILL {name} at {tally.events} events", flush=True)
        elif fault == "pause":
            print(f"soak: database paused for {plan.db_pause_seconds:.0f}s", flush=True)
            mongodb.kill(signal.SIGSTOP)
            time.sleep(plan.db_pause_seconds)  # the fault's duration
            mongodb.kill(signal.SIGCONT)
        elif fault == "restart":
            print("soak: database restarted", flush=True)
            mongodb.stop()
            mongodb.start()
        else:
            print(f"soak: SMTP sink down for {plan.smtp_down_seconds:.0f}s", flush=True)
            smtp.stop()
            time.sleep(plan.smtp_down_seconds)  # the fault's duration
            smtp.start()
    tally.faults_over = True


@dataclass
class Member:
    """One member organisation of the network: a provider and a requester client of its own
    (the write rate limit is per organisation), and the demands it submitted."""

    offers: Client
    demands: Client
    submitted: list[str] = field(default_factory=list)


def drive(member: Member, plan: Plan, tally: Tally, rng: random.Random) -> None:
    """The steady stream: demands, offers, answers by both sides, withdrawals."""
    while tally.next_event(plan.events):
        roll = rng.random()
        kind = rng.choice(SERVICE_TYPES)
        if roll < 0.2 or not tally.offers:
            body = an_offer(service_type=kind, near=place(rng), capacity=rng.randint(1, 3))
            created = member.offers.call("POST", "/v1/offers", body, key=str(uuid.uuid4()))
            if created:
                tally.provider_of[created["id"]] = member.offers
                tally.offers.append(created["id"])
        elif roll < 0.75:
            body = a_demand(
                service_type=kind,
                near=place(rng),
                email=f"family{uuid.uuid4().hex[:12]}@example.org",
                beneficiary_age=None,
            )
            created = member.demands.call("POST", "/v1/demands", body, key=str(uuid.uuid4()))
            if created:
                member.submitted.append(created["id"])
                tally.demands.append(created["id"])
        elif roll < 0.93:
            answer(member.demands, tally, rng.choice(member.submitted or ["none"]), rng)
        elif member.submitted:
            demand_id = rng.choice(member.submitted)
            if member.demands.call("DELETE", f"/v1/demands/{demand_id}") is not None:
                tally.withdrawn.add(demand_id)


def answer(demands: Client, tally: Tally, demand_id: str, rng: random.Random) -> None:
    """Both sides answer the demand's current proposal (mostly accept); the provider is the
    organisation that published the offer."""
    demand = demands.call("GET", f"/v1/demands/{demand_id}")
    match = (demand or {}).get("match")
    if not match or match.get("state") != "proposed":
        return
    word = "accept" if rng.random() < 0.8 else "decline"
    demands.call("POST", f"/v1/demands/{demand_id}/match/{word}")
    path = f"/v1/offers/{match['offer_id']}/matches/{match['match_id']}/accept"
    tally.provider_of[match["offer_id"]].call("POST", path)


def backlog(stack: Stack) -> float | None:
    """Outbox rows not yet published plus consumer lag, summed over the four services'
    /metrics; None while one of them does not answer."""
    total = 0.0
    for name in SERVICES:
        try:
            text = httpx.get(f"{stack.url(name)}/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        for line in text.splitlines():
            if line.startswith(("concilia_outbox_pending{", "concilia_consumer_lag_messages{")):
                total += float(line.rsplit(" ", 1)[1])
    return total


def unfinished_mails(stack: Stack) -> int:
    """Notification jobs neither sent, failed nor dropped, read from the notifier's ledger
    (the consumer lag alone once declared quiet a notifier thousands of mails behind)."""
    assert stack.infra is not None
    with MongoClient[Document](stack.infra.mongodb_url) as client:
        jobs = client["concilia_notifier"][JOBS]
        return jobs.count_documents({"status": {"$in": ["pending", "sending"]}})


def quiet(stack: Stack, seen: list[float | None]) -> bool:
    """Nothing left to publish, consume or mail, four polls in a row (2 s apart: longer
    than the services' 5 s period of measuring their lag)."""
    pending = backlog(stack)
    seen.append(None if pending is None else pending + unfinished_mails(stack))
    return len(seen) >= 4 and all(x == 0 for x in seen[-4:])


def undecided(operator: Client, tally: Tally) -> int:
    """Open demands with neither a match nor a waiting reason: the matcher never decided
    them (part of `lost`)."""
    count = 0
    for demand_id in tally.demands:
        found = operator.call("GET", f"/v1/demands/{demand_id}") or {}
        count += int(found.get("status") == "open" and not found.get("waiting_reason"))
    return count


@dataclass(frozen=True)
class Mails:
    window: int  # extra copies the known window explains (up to the job's uncertain_resends)
    unexplained: int  # extra copies nothing explains
    lost: int  # jobs the ledger calls sent with no copy received, failed or never finished


def mails(stack: Stack) -> Mails:
    """The mailbox against the notifier's ledger."""
    copies = Counter(
        email.parser.BytesParser().parsebytes(p.read_bytes(), headersonly=True)["Message-ID"]
        for p in stack.mail_dir.glob("*.eml")
    )
    assert stack.infra is not None
    with MongoClient[Document](stack.infra.mongodb_url) as client:
        jobs = list(
            client["concilia_notifier"][JOBS].find({}, {"status": 1, "uncertain_resends": 1})
        )
    for job in jobs:
        job["message_id"] = message_id(job["_id"], MAIL_FROM)
    resends = {job["message_id"]: job.get("uncertain_resends", 0) for job in jobs}
    window = unexplained = 0
    for mail_id, n in copies.items():
        extra = n - 1
        window += min(extra, resends.get(mail_id, 0))
        unexplained += max(0, extra - resends.get(mail_id, 0))
    lost = sum(
        1
        for job in jobs
        if job["status"] in ("pending", "sending", "failed")
        or (job["status"] == "sent" and job["message_id"] not in copies)
    )
    return Mails(window, unexplained, lost)


def forced_crashes(stack: Stack) -> int:
    """Failpoints that fired, read from the services' logs."""
    return sum(
        path.read_text(errors="replace").count("failpoint fired")
        for path in stack.log_dir.glob("*.log")
    )


@dataclass
class Readers:
    """A network operator's clients, which read every organisation's records."""

    offers: Client
    demands: Client


def counters(stack: Stack, operator: Readers, tally: Tally) -> dict[str, int]:
    lost = sum(1 for d in tally.demands if operator.demands.call("GET", f"/v1/demands/{d}") is None)
    lost += sum(1 for o in tally.offers if operator.offers.call("GET", f"/v1/offers/{o}") is None)
    live: Counter[str] = Counter()
    overbooked = 0
    for offer_id in tally.offers:
        offer = operator.offers.call("GET", f"/v1/offers/{offer_id}") or {}
        held = 0
        for m in operator.offers.call("GET", f"/v1/offers/{offer_id}/matches") or []:
            if m["state"] in ("proposed", "accepted"):
                live[m["demand_id"]] += 1
                held += m["seats"]
        overbooked += int(held > offer.get("capacity", 0))
    duplicate_matches = sum(n - 1 for n in live.values() if n > 1)
    mailbox = mails(stack)
    bootstrap = f"127.0.0.1:{stack.ports.kafka}"
    dead = asyncio.run(read_all(bootstrap, *(topics.dlq(t) for t in topics.ALL)))
    return {
        "lost": lost + mailbox.lost,
        "duplicated": duplicate_matches + mailbox.unexplained,
        "overbooked": overbooked,
        "dead_lettered": len(dead),
        "unexpected": len(tally.unexpected),
        "window_duplicate_mails": mailbox.window,
        "mails": len(list(stack.mail_dir.glob("*.eml"))),
    }


def member(stack: Stack, number: int, tally: Tally) -> Member:
    org = f"soak-member-{number}"
    token = functools.partial(issue_token, stack.secret, sub=f"soak-{number}", org=org)
    return Member(
        Client(stack.url("offers"), token(roles=["provider"]), tally),
        Client(stack.url("demands"), token(roles=["requester"]), tally),
    )


def run(plan: Plan, home: Path | None = None, seed: int = 7) -> dict[str, Any]:
    """Run the soak; returns the counters plus events, kills and seconds."""
    rng = random.Random(seed)
    ports = Ports(**{name: free_port() for name in Ports.names()})
    # Held "still waiting" mails go out after 5 s, not 10 min, so that every mail is due
    # by the time the soak settles.
    env = {"WAITING_MAIL_DELAY_SECONDS": "5"}
    if plan.failpoints:
        env["CONCILIA_FAILPOINTS"] = plan.failpoints
    home = home or Path(tempfile.mkdtemp(prefix="concilia-soak-"))
    stack = Stack(home, ports, say=print, service_env=env)
    started = time.monotonic()
    stack.start()
    tally = Tally()
    done = threading.Event()
    try:
        members = [member(stack, n, tally) for n in range(plan.clients)]
        token = issue_token(stack.secret, sub="soak", org="network", roles=["operator"])
        operator = Readers(
            Client(stack.url("offers"), token, tally), Client(stack.url("demands"), token, tally)
        )
        chaos = threading.Thread(target=faults, args=(stack, plan, tally, rng, done), daemon=True)
        chaos.start()
        drivers = [
            threading.Thread(
                target=drive, args=(m, plan, tally, random.Random(seed + n)), daemon=True
            )
            for n, m in enumerate(members)
        ]
        for driver in drivers:
            driver.start()
        for driver in drivers:
            driver.join()
        done.set()
        chaos.join()
        polls: list[float | None] = []
        with contextlib.suppress(TimeoutError):
            wait_until(
                lambda: quiet(stack, polls),
                timeout=plan.settle_seconds,
                what="settling",
                interval=2,
            )
        result: dict[str, Any] = counters(stack, operator, tally)
        # A demand accepted with a 2xx but never decided is lost work, counted as lost.
        result["undecided"] = undecided(operator.demands, tally)
        result["lost"] += result["undecided"]
        result["forced_crashes"] = forced_crashes(stack)
    finally:
        done.set()
        stack.stop()
    result.update(events=tally.events, kills=tally.kills, seconds=round(time.monotonic() - started))
    for line in tally.unexpected[:20]:
        print(f"soak: unexpected: {line}")
    return result


FAILING = ("lost", "duplicated", "overbooked", "dead_lettered", "unexpected")


def report(result: dict[str, Any]) -> int:
    print(f"{'counter':<24}{'value':>8}")
    extra = ("window_duplicate_mails", "undecided", "mails", "events", "kills", "forced_crashes")
    for name in (*FAILING, *extra, "seconds"):
        print(f"{name:<24}{result[name]:>8}")
    print(json.dumps(result, sort_keys=True))
    return 1 if any(result[name] for name in FAILING) else 0


if __name__ == "__main__":
    # Stopped like Ctrl-C: the servers and services it started are stopped too, not left.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(report(run(LONG)))
