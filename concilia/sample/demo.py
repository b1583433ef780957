"""`concilia demo`: load the Isola sample data through the HTTP APIs, wait until the matcher
and notifier have settled, publish the late offers, settle again, print a summary."""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from concilia.embedded.processes import http_get_text
from concilia.embedded.stack import Stack
from concilia.platform.auth import issue_token
from concilia.sample.api import Api, ApiError, list_all
from concilia.sample.demands import SampleDemand, demands
from concilia.sample.offers import SampleOffer, offers
from concilia.sample.summary import print_summary

OPERATOR_ORG = "concilia-operators"
SETTLE_TIMEOUT = 240.0
STABLE_FOR = 3.0


class NotSettled(RuntimeError):
    """The matcher and notifier did not reach a stable state before the deadline."""


@dataclass
class Loaded:
    """What the demo posted, by the id each service gave it."""

    offers: dict[str, SampleOffer] = field(default_factory=dict)
    demands: dict[str, SampleDemand] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """The demands we posted as the demands service sees them, and the e-mails sent."""

    demands: dict[str, dict[str, Any]]
    emails: int

    @property
    def matched(self) -> int:
        return sum(1 for d in self.demands.values() if d.get("status") == "matched")

    @property
    def settled(self) -> bool:
        decided = all(
            d.get("status") == "matched" or d.get("waiting_reason") for d in self.demands.values()
        )
        return decided and self.emails == 2 * self.matched

    def key(self) -> tuple[object, ...]:
        states = sorted(
            (i, d.get("status"), d.get("waiting_reason")) for i, d in self.demands.items()
        )
        return (tuple(states), self.emails)


def run_demo(stack: Stack, say: Callable[[str], None] = print) -> int:
    """Run the demo on a started stack; 0 when everything settled, 1 otherwise."""
    today = date.today()
    secret = stack.secret
    sample_offers, sample_demands = offers(today), demands(today)
    loaded = Loaded()

    def api(service: str, org: str, role: str) -> Api:
        token = issue_token(secret, sub=f"demo@{org}", org=org, roles=[role])
        return Api(stack.url(service), token)

    operator = api("demands", OPERATOR_ORG, "operator")
    try:
        first = [o for o in sample_offers if not o.late]
        providers = len({o.organization for o in first})
        say(f"demo: publishing {len(first)} offers from {providers} providers")
        for offer in first:
            _post_offer(api("offers", offer.organization, "provider"), offer, loaded)
        _wait_matcher_knows(stack, len(first), say)
        say(
            f"demo: submitting {len(sample_demands)} demands from "
            f"{len({d.organization for d in sample_demands})} member organisations"
        )
        for demand in sample_demands:
            created = api("demands", demand.organization, "requester").post(
                "/v1/demands", demand.payload, f"isola-demo-demand-{demand.key}"
            )
            loaded.demands[created["id"]] = demand
        say("demo: waiting for the matcher and the notifier to settle")
        before = _settle(stack, operator, loaded, say)
        late = [o for o in sample_offers if o.late]
        say(
            f"demo: {before.matched} demands matched; now publishing {len(late)} late offers "
            "to serve some of those still waiting"
        )
        for offer in late:
            _post_offer(api("offers", offer.organization, "provider"), offer, loaded)
        after = _settle(stack, operator, loaded, say, more_than=before.matched)
    except (ApiError, NotSettled) as exc:
        say(f"demo: FAILED: {exc}")
        say(f"demo: service logs are in {stack.log_dir}")
        return 1
    print_summary(
        loaded.offers,
        loaded.demands,
        before.demands,
        after.demands,
        after.emails,
        stack.mail_dir,
        print_line=say,
    )
    return 0


def _post_offer(api: Api, offer: SampleOffer, loaded: Loaded) -> None:
    created = api.post("/v1/offers", offer.payload, f"isola-demo-offer-{offer.key}")
    loaded.offers[created["id"]] = offer


def _wait_matcher_knows(stack: Stack, count: int, say: Callable[[str], None]) -> None:
    """Demands submitted before the matcher has read the offers would first be refused
    with `no_provider`; waiting on its open-offers gauge keeps the demo's story exact."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = http_get_text(f"{stack.url('matcher')}/metrics") or ""
        known = sum(
            float(v) for v in re.findall(r"^concilia_open_offers\{[^}]*\} (\S+)$", text, re.M)
        )
        if known >= count:
            return
        time.sleep(0.5)
    say("demo: the matcher's open-offers gauge did not reach the offers published; going on")


def _settle(
    stack: Stack,
    operator: Api,
    loaded: Loaded,
    say: Callable[[str], None],
    more_than: int | None = None,
) -> Snapshot:
    """Poll until every demand is matched or has a waiting reason, e-mails = 2 × matched,
    (optionally) more demands are matched than `more_than`, and all stays still for a while."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    stable_since, last_key, last_report = time.monotonic(), None, 0.0
    while True:
        snapshot = _snapshot(stack, operator, loaded)
        now = time.monotonic()
        if snapshot.key() != last_key:
            stable_since, last_key = now, snapshot.key()
        progressed = more_than is None or snapshot.matched > more_than
        if snapshot.settled and progressed and now - stable_since >= STABLE_FOR:
            return snapshot
        if now > deadline:
            undecided = sum(
                1
                for d in snapshot.demands.values()
                if d.get("status") != "matched" and not d.get("waiting_reason")
            )
            raise NotSettled(
                f"not settled after {SETTLE_TIMEOUT:.0f}s: {snapshot.matched} matched, "
                f"{undecided} demands with neither a match nor a waiting reason, "
                f"{snapshot.emails} e-mails (expected {2 * snapshot.matched})"
                + ("" if progressed else "; the late offers served no waiting demand")
            )
        if now - last_report > 15:
            last_report = now
            say(f"demo: … {snapshot.matched} matched, {snapshot.emails} e-mails so far")
        time.sleep(0.5)


def _snapshot(stack: Stack, operator: Api, loaded: Loaded) -> Snapshot:
    seen = {d["id"]: d for d in list_all(operator, "/v1/demands") if d["id"] in loaded.demands}
    emails = sum(1 for f in stack.mail_dir.glob("*.eml")) if stack.mail_dir.exists() else 0
    return Snapshot(seen, emails)
