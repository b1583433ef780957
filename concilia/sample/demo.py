"""`concilia demo`: load the Isola sample data through the HTTP APIs, let families and
providers answer the proposals by the links in their e-mails, publish the late offers, let
one proposal run out of time, and print a summary.

The story (README: match lifecycle): most families and providers accept by their link; one provider
declines, so its family is matched again elsewhere; one family never answers, so its
proposal expires (the demo runs with a short answer window) and its request closes."""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from concilia.embedded.processes import http_get_text
from concilia.embedded.stack import Stack
from concilia.embedded.stats import fetch_insight, gap_table
from concilia.platform.auth import issue_token
from concilia.sample.api import Api, ApiError, list_all
from concilia.sample.demands import SampleDemand, demands
from concilia.sample.links import LinkError, follow, links_in
from concilia.sample.offers import SampleOffer, offers
from concilia.sample.summary import Answers, print_summary

OPERATOR_ORG = "concilia-operators"
SETTLE_TIMEOUT = 240.0
STABLE_FOR = 3.0


class NotSettled(RuntimeError):
    """The services did not reach a stable state before the deadline."""


@dataclass
class Loaded:
    """What the demo posted, by the id each service gave it, and how it answered."""

    offers: dict[str, SampleOffer] = field(default_factory=dict)
    demands: dict[str, SampleDemand] = field(default_factory=dict)
    answers: Answers = field(default_factory=Answers)


@dataclass(frozen=True)
class Snapshot:
    """The demands we posted as the demands service sees them, and the e-mails sent."""

    demands: dict[str, dict[str, Any]]
    emails: int

    @property
    def matched(self) -> int:
        return sum(1 for d in self.demands.values() if d.get("status") == "matched")

    def proposed(self) -> dict[str, dict[str, Any]]:
        """Demand id → its match, for the demands whose proposal awaits answers."""
        return {
            i: d["match"]
            for i, d in self.demands.items()
            if d.get("status") == "matched" and (d.get("match") or {}).get("state") == "proposed"
        }

    @property
    def decided(self) -> bool:
        """Every demand is matched, waiting with a reason, or closed."""
        return all(
            d.get("status") in ("matched", "expired", "withdrawn") or d.get("waiting_reason")
            for d in self.demands.values()
        )

    def key(self) -> tuple[object, ...]:
        states = sorted(
            (i, d.get("status"), (d.get("match") or {}).get("state"), d.get("waiting_reason"))
            for i, d in self.demands.items()
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
        proposals = _settle(stack, operator, loaded, say)
        _choose_who_declines_and_who_forgets(proposals, loaded)
        say(
            f"demo: {proposals.matched} proposals sent; families and providers answer by the "
            "links in their e-mails (one provider declines, one family never answers)"
        )
        before = _answer_until_settled(stack, operator, loaded, say)
        late = [o for o in sample_offers if o.late]
        say(f"demo: now publishing {len(late)} late offers to serve some of those still waiting")
        for offer in late:
            _post_offer(api("offers", offer.organization, "provider"), offer, loaded)
        say(
            f"demo: answering the new proposals; the unanswered one expires after "
            f"the answer window ({stack.answer_ttl_seconds or 'MATCH_ANSWER_TTL_SECONDS'} s)"
        )
        after = _answer_until_settled(
            stack, operator, loaded, say, more_than=before.matched, until_expired=True
        )
    except (ApiError, LinkError, NotSettled, OSError) as exc:  # OSError: a service away
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
        loaded.answers,
        print_line=say,
    )
    _print_gap(
        stack, issue_token(secret, sub="demo@operators", org=OPERATOR_ORG, roles=["operator"]), say
    )
    return 0


def _print_gap(stack: Stack, token: str, say: Callable[[str], None]) -> None:
    """The operators' view of the same network: `concilia stats`."""
    try:
        table = gap_table(fetch_insight(stack.url("matcher"), token))
    except OSError as exc:  # urllib's errors included
        table = f"(the matcher's /v1/insight did not answer: {exc})"
    say("")
    say("demo: what operators see (`concilia stats`):")
    for line in table.splitlines():
        say(line)


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


def _choose_who_declines_and_who_forgets(proposals: Snapshot, loaded: Loaded) -> None:
    """Deterministic picks among the first proposals (by sample key): the provider of one
    declines (a demand whose service type has other offers, so it can be matched again),
    and one family never answers. Giulia's after-school match stays the README's example."""
    offered_types = [o.payload["service_type"] for o in loaded.offers.values()]
    candidates = sorted(
        (loaded.demands[i].key, i)
        for i in proposals.proposed()
        if loaded.demands[i].person != "Giulia"
    )
    for _, demand_id in candidates:
        service_type = loaded.demands[demand_id].payload["service_type"]
        if loaded.answers.declined_demand is None and offered_types.count(service_type) > 1:
            loaded.answers.declined_demand = demand_id
        elif loaded.answers.unanswered_demand is None:
            loaded.answers.unanswered_demand = demand_id
    if loaded.answers.declined_demand is None or loaded.answers.unanswered_demand is None:
        raise NotSettled("too few proposals to show a decline and an expiry")


def _answer_proposals(stack: Stack, snapshot: Snapshot, loaded: Loaded) -> None:
    """Follow the links of every proposal whose two e-mails have arrived."""
    answers = loaded.answers
    links = links_in(stack.mail_dir)
    for demand_id, match in snapshot.proposed().items():
        match_id = match["match_id"]
        if demand_id == answers.unanswered_demand or match_id in answers.answered:
            continue
        requester, provider = links.get(("r", match_id)), links.get(("p", match_id))
        if requester is None or provider is None:
            continue  # the e-mails are still on their way
        follow(requester, "accept")
        declines = demand_id == answers.declined_demand and not answers.declined_match
        follow(provider, "decline" if declines else "accept")
        if declines:
            answers.declined_match = match_id
            answers.declined_offer = match["offer_id"]
        answers.answered.add(match_id)


def _answer_until_settled(
    stack: Stack,
    operator: Api,
    loaded: Loaded,
    say: Callable[[str], None],
    more_than: int | None = None,
    until_expired: bool = False,
) -> Snapshot:
    """Answer proposals as their e-mails arrive, until only the unanswered one (or, with
    `until_expired`, none: it has expired) awaits answers and all is still."""

    def done(snapshot: Snapshot) -> bool:
        waiting = set(snapshot.proposed()) - {loaded.answers.unanswered_demand}
        if waiting:
            return False
        if until_expired:
            forgotten = snapshot.demands.get(str(loaded.answers.unanswered_demand), {})
            return forgotten.get("status") == "expired"
        return True

    return _settle(
        stack,
        operator,
        loaded,
        say,
        more_than=more_than,
        act=lambda snapshot: _answer_proposals(stack, snapshot, loaded),
        done=done,
    )


def _settle(
    stack: Stack,
    operator: Api,
    loaded: Loaded,
    say: Callable[[str], None],
    more_than: int | None = None,
    act: Callable[[Snapshot], None] = lambda _: None,
    done: Callable[[Snapshot], bool] = lambda _: True,
) -> Snapshot:
    """Poll (and `act` on each snapshot) until every demand is decided, `done` holds,
    (optionally) more demands are matched than `more_than`, and all stays still a while."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    stable_since, last_key, last_report = time.monotonic(), None, 0.0
    while True:
        snapshot = _snapshot(stack, operator, loaded)
        act(snapshot)
        now = time.monotonic()
        if snapshot.key() != last_key:
            stable_since, last_key = now, snapshot.key()
        progressed = more_than is None or snapshot.matched > more_than
        if snapshot.decided and done(snapshot) and progressed and now - stable_since >= STABLE_FOR:
            return snapshot
        if now > deadline:
            undecided = sum(
                1 for d in snapshot.demands.values() if not Snapshot({"": d}, 0).decided
            )
            raise NotSettled(
                f"not settled after {SETTLE_TIMEOUT:.0f}s: {snapshot.matched} matched, "
                f"{undecided} demands with neither a match nor a waiting reason, "
                f"{len(snapshot.proposed())} proposals awaiting answers, "
                f"{snapshot.emails} e-mails"
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
