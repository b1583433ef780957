"""`make soak`: the long fault soak (issue 7). The whole embedded stack takes a steady stream
of offers, demands, answers and withdrawals while every service is SIGKILLed at random
moments, the database is paused (SIGSTOP) once and restarted once, and the SMTP sink is
down for a while. Then Jepsen-style counters — lost, duplicated, overbooked, dead_lettered,
unexpected — all must be 0: a table, then one JSON line (with `events` and `kills`).

The long run (default): SOAK_EVENTS=10000, SOAK_KILLS=20, SOAK_DB_PAUSE=100 (s),
SOAK_SMTP_DOWN=60 (s). `run(SHORT)` is the short version `make test` runs
(tests/service/test_faults_soak.py). Client behaviour under faults: a request that fails
with a connection error, a timeout or a 5xx is retried with the same Idempotency-Key (that is
what the key is for); `unexpected` counts answers a correct client should never get (any
4xx but 404/409/429) and 5xx once every fault has ended."""

import asyncio
import contextlib
import email.parser
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

from concilia.contract import topics
from concilia.embedded.processes import free_port, wait_until
from concilia.embedded.stack import SERVICES, Ports, Stack
from concilia.platform.auth import issue_token
from tests.support.factories import a_demand, an_offer
from tests.support.kafka import read_all
from tests.support.places import Place

SERVICE_TYPES = ("after_school", "sport", "elderly_care", "coworking")
ORG = "soak-org"


@dataclass(frozen=True)
class Plan:
    events: int
    kills: int
    db_pause_seconds: float
    smtp_down_seconds: float
    settle_seconds: float


LONG = Plan(
    events=int(os.environ.get("SOAK_EVENTS", "10000")),
    kills=int(os.environ.get("SOAK_KILLS", "20")),
    db_pause_seconds=float(os.environ.get("SOAK_DB_PAUSE", "100")),
    smtp_down_seconds=float(os.environ.get("SOAK_SMTP_DOWN", "60")),
    settle_seconds=900,
)
SHORT = Plan(events=60, kills=3, db_pause_seconds=3, smtp_down_seconds=3, settle_seconds=240)


@dataclass
class Tally:
    events: int = 0
    kills: int = 0
    unexpected: list[str] = field(default_factory=list)
    faults_over: bool = False
    demands: list[str] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)
    withdrawn: set[str] = field(default_factory=set)


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
            stack.services[name].child.kill(signal.SIGKILL)
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


def drive(offers: Client, demands: Client, plan: Plan, tally: Tally, rng: random.Random) -> None:
    """The steady stream: demands, offers, answers by both sides, withdrawals."""
    while tally.events < plan.events:
        roll = rng.random()
        kind = rng.choice(SERVICE_TYPES)
        if roll < 0.2 or not tally.offers:
            body = an_offer(service_type=kind, near=place(rng), capacity=rng.randint(1, 3))
            created = offers.call("POST", "/v1/offers", body, key=str(uuid.uuid4()))
            if created:
                tally.offers.append(created["id"])
        elif roll < 0.75:
            body = a_demand(
                service_type=kind,
                near=place(rng),
                email=f"family{tally.events}@example.org",
                beneficiary_age=None,
            )
            created = demands.call("POST", "/v1/demands", body, key=str(uuid.uuid4()))
            if created:
                tally.demands.append(created["id"])
        elif roll < 0.93:
            answer(offers, demands, rng.choice(tally.demands or ["none"]), rng)
        elif tally.demands:
            demand_id = rng.choice(tally.demands)
            if demands.call("DELETE", f"/v1/demands/{demand_id}") is not None:
                tally.withdrawn.add(demand_id)
        tally.events += 1


def answer(offers: Client, demands: Client, demand_id: str, rng: random.Random) -> None:
    """Both sides answer the demand's current proposal (mostly accept)."""
    demand = demands.call("GET", f"/v1/demands/{demand_id}")
    match = (demand or {}).get("match")
    if not match or match.get("state") != "proposed":
        return
    word = "accept" if rng.random() < 0.8 else "decline"
    demands.call("POST", f"/v1/demands/{demand_id}/match/{word}")
    path = f"/v1/offers/{match['offer_id']}/matches/{match['match_id']}/accept"
    offers.call("POST", path)


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


def quiet(stack: Stack, seen: list[float | None]) -> bool:
    """Nothing left to publish or consume, three polls in a row."""
    seen.append(backlog(stack))
    return len(seen) >= 3 and all(x == 0 for x in seen[-3:])


def undecided(demands: Client, tally: Tally) -> int:
    """Open demands with neither a match nor a waiting reason (reported, not failing)."""
    count = 0
    for demand_id in tally.demands:
        found = demands.call("GET", f"/v1/demands/{demand_id}") or {}
        count += int(found.get("status") == "open" and not found.get("waiting_reason"))
    return count


def counters(stack: Stack, offers: Client, demands: Client, tally: Tally) -> dict[str, int]:
    lost = sum(1 for d in tally.demands if demands.call("GET", f"/v1/demands/{d}") is None)
    lost += sum(1 for o in tally.offers if offers.call("GET", f"/v1/offers/{o}") is None)
    live: Counter[str] = Counter()
    overbooked = 0
    for offer_id in tally.offers:
        offer = offers.call("GET", f"/v1/offers/{offer_id}") or {}
        held = 0
        for m in offers.call("GET", f"/v1/offers/{offer_id}/matches") or []:
            if m["state"] in ("proposed", "accepted"):
                live[m["demand_id"]] += 1
                held += m["seats"]
        overbooked += int(held > offer.get("capacity", 0))
    duplicate_matches = sum(n - 1 for n in live.values() if n > 1)
    message_ids = Counter(
        email.parser.BytesParser().parsebytes(p.read_bytes())["Message-ID"]
        for p in stack.mail_dir.glob("*.eml")
    )
    duplicate_mails = sum(n - 1 for n in message_ids.values() if n > 1)
    bootstrap = f"127.0.0.1:{stack.ports.kafka}"
    dead = asyncio.run(read_all(bootstrap, *(topics.dlq(t) for t in topics.ALL)))
    return {
        "lost": lost,
        "duplicated": duplicate_matches + duplicate_mails,
        "overbooked": overbooked,
        "dead_lettered": len(dead),
        "unexpected": len(tally.unexpected),
        "duplicate_mails": duplicate_mails,
        "mails": sum(message_ids.values()),
    }


def run(plan: Plan, home: Path | None = None, seed: int = 7) -> dict[str, Any]:
    """Run the soak; returns the counters plus events, kills and seconds."""
    rng = random.Random(seed)
    ports = Ports(**{name: free_port() for name in Ports.names()})
    stack = Stack(home or Path(tempfile.mkdtemp(prefix="concilia-soak-")), ports, say=print)
    started = time.monotonic()
    stack.start()
    tally = Tally()
    done = threading.Event()
    try:
        secret = stack.secret
        offers = Client(
            stack.url("offers"), issue_token(secret, sub="s", org=ORG, roles=["provider"]), tally
        )
        demands = Client(
            stack.url("demands"), issue_token(secret, sub="s", org=ORG, roles=["requester"]), tally
        )
        chaos = threading.Thread(target=faults, args=(stack, plan, tally, rng, done), daemon=True)
        chaos.start()
        drive(offers, demands, plan, tally, rng)
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
        result: dict[str, Any] = counters(stack, offers, demands, tally)
        result["undecided"] = undecided(demands, tally)
    finally:
        done.set()
        stack.stop()
    result.update(events=tally.events, kills=tally.kills, seconds=round(time.monotonic() - started))
    for line in tally.unexpected[:20]:
        print(f"soak: unexpected: {line}")
    return result


FAILING = ("lost", "duplicated", "overbooked", "dead_lettered", "unexpected")


def report(result: dict[str, Any]) -> int:
    print(f"{'counter':<16}{'value':>8}")
    for name in (*FAILING, "duplicate_mails", "undecided", "mails", "events", "kills", "seconds"):
        print(f"{name:<16}{result[name]:>8}")
    print(json.dumps(result, sort_keys=True))
    return 1 if any(result[name] for name in FAILING) else 0


if __name__ == "__main__":
    sys.exit(report(run(LONG)))
