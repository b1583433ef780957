"""The demo's closing report: matches per area, who is still waiting and why, e-mails."""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concilia.contract.taxonomy import Area, area_of
from concilia.sample.demands import SampleDemand
from concilia.sample.offers import SampleOffer
from concilia.sample.places import km_between


@dataclass
class Answers:
    """How the demo answered the proposals through the links in the e-mails."""

    answered: set[str] = field(default_factory=set)  # match ids answered by both parties
    declined_demand: str | None = None  # its provider declines
    declined_match: str | None = None
    declined_offer: str | None = None
    unanswered_demand: str | None = None  # its family never answers: the proposal expires


def print_summary(
    offers: dict[str, SampleOffer],
    posted: dict[str, SampleDemand],
    before_late: dict[str, dict[str, Any]],
    final: dict[str, dict[str, Any]],
    emails: int,
    mail_dir: Path,
    answers: Answers,
    print_line: Callable[[str], None] = print,
) -> None:
    """Print what the matcher and the notifier made of the sample data."""
    out: list[str] = ["", "═" * 72, "Concilia demo — Isola sample data", "═" * 72]
    providers = {o.organization for o in offers.values()}
    members = {d.organization for d in posted.values()}
    late = sum(1 for o in offers.values() if o.late)
    out.append(
        f"{len(offers)} offers from {len(providers)} providers ({late} published late), "
        f"{len(posted)} demands from {len(members)} member organisations."
    )
    matched = {i: d for i, d in final.items() if d.get("status") == "matched"}
    closed = {i: d for i, d in final.items() if d.get("status") in ("expired", "withdrawn")}
    out += ["", "Matches per area:"]
    for area in Area:
        total = sum(1 for d in posted.values() if area_of(d.payload["service_type"]) == area)
        hits = sum(1 for i in matched if area_of(posted[i].payload["service_type"]) == area)
        out.append(f"  {area.value:<8} {hits:>3} matched of {total:>3} demands")
    out.append(f"  {'total':<8} {len(matched):>3} matched of {len(posted):>3} demands")

    waiting: dict[str, list[str]] = defaultdict(list)
    for i, d in final.items():
        if i not in matched and i not in closed:
            sample = posted[i]
            waiting[str(d.get("waiting_reason"))].append(
                f"{sample.person} ({sample.place.street}, {sample.payload['service_type']})"
            )
    out += ["", f"Demands still waiting ({sum(len(v) for v in waiting.values())}), by reason:"]
    for reason, who in sorted(waiting.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        examples = ", ".join(who[:3]) + (", …" if len(who) > 3 else "")
        out.append(f"  {reason:<16} {len(who):>3}   e.g. {examples}")

    served_late = [i for i in matched if before_late.get(i, {}).get("status") != "matched"]
    out += ["", f"Served only after the late offers ({len(served_late)}):"]
    out += [f"  {_describe(posted[i], final[i], offers)}" for i in served_late]

    out += ["", "Example matches:"]
    shown = sorted(matched, key=lambda i: posted[i].key)
    out += [f"  {_describe(posted[i], final[i], offers)}" for i in shown[:8]]

    out += _answers(posted, final, offers, answers)
    out += ["", f"E-mails sent: {emails} (.eml files in {mail_dir})"]
    out += _expectations(posted, final, answers)
    print_line("\n".join(out))


def _describe(sample: SampleDemand, demand: dict[str, Any], offers: dict[str, SampleOffer]) -> str:
    match = demand.get("match") or {}
    offer = offers.get(str(match.get("offer_id")))
    who = f"{sample.person} ({sample.place.street})"
    if offer is None:
        return f"{who} → offer {match.get('offer_id')}"
    location = offer.payload["location"]
    if location is None:
        where = "online"
    else:
        km = km_between(sample.place.lat, sample.place.lon, location["lat"], location["lon"])
        where = f"{km:.1f} km"
    return f"{who} → {offer.payload['title']}, {where}"


def _answers(
    posted: dict[str, SampleDemand],
    final: dict[str, dict[str, Any]],
    offers: dict[str, SampleOffer],
    answers: Answers,
) -> list[str]:
    """The lifecycle: accepted by both, the decline and its re-match, the expiry."""
    accepted = sum(1 for d in final.values() if (d.get("match") or {}).get("state") == "accepted")
    out = ["", "Answers given by the links in the e-mails:"]
    out.append(f"  accepted by both parties  {accepted:>3}")
    if answers.declined_demand:
        i = answers.declined_demand
        declined_offer = offers.get(str(answers.declined_offer))
        title = declined_offer.payload["title"] if declined_offer else "its offer"
        out.append(f"  declined by the provider    1   {posted[i].person}'s proposal ({title})")
        now = final.get(i, {})
        if now.get("status") == "matched":
            out.append(f"  re-matched elsewhere        1   {_describe(posted[i], now, offers)}")
        else:
            out.append(f"  waiting again               1   because {now.get('waiting_reason')}")
    if answers.unanswered_demand:
        i = answers.unanswered_demand
        state = final.get(i, {}).get("status")
        out.append(f"  expired unanswered          1   {posted[i].person}'s request is now {state}")
    return out


def _expectations(
    posted: dict[str, SampleDemand], final: dict[str, dict[str, Any]], answers: Answers
) -> list[str]:
    """How many outcomes are the ones the sample data (and the demo's answers) were
    designed to produce: the unanswered proposal expires; the declined demand is matched
    again elsewhere or waits with a reason."""
    misses: Counter[str] = Counter()
    for i, sample in posted.items():
        status = final.get(i, {})
        got = "matched" if status.get("status") == "matched" else str(status.get("waiting_reason"))
        want = "matched" if sample.expect == "late" else sample.expect
        if i == answers.unanswered_demand:
            got, want = str(status.get("status")), "expired"
        elif i == answers.declined_demand:
            offer = (status.get("match") or {}).get("offer_id")
            got = want = "re-matched or waiting"
            if status.get("status") not in ("matched", "open") or offer == answers.declined_offer:
                got = f"{status.get('status')} with offer {offer}"
        if got != want:
            misses[f"{sample.key} expected {want}, got {got}"] += 1
    lines = ["", f"Outcomes as designed: {len(posted) - len(misses)} of {len(posted)}."]
    lines += [f"  differs: {m}" for m in sorted(misses)]
    return lines
