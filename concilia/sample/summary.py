"""The demo's closing report: matches per area, who is still waiting and why, e-mails."""

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from concilia.contract.taxonomy import Area, area_of
from concilia.sample.demands import SampleDemand
from concilia.sample.offers import SampleOffer
from concilia.sample.places import km_between


def print_summary(
    offers: dict[str, SampleOffer],
    posted: dict[str, SampleDemand],
    before_late: dict[str, dict[str, Any]],
    final: dict[str, dict[str, Any]],
    emails: int,
    mail_dir: Path,
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
    out += ["", "Matches per area:"]
    for area in Area:
        total = sum(1 for d in posted.values() if area_of(d.payload["service_type"]) == area)
        hits = sum(1 for i in matched if area_of(posted[i].payload["service_type"]) == area)
        out.append(f"  {area.value:<8} {hits:>3} matched of {total:>3} demands")
    out.append(f"  {'total':<8} {len(matched):>3} matched of {len(posted):>3} demands")

    waiting: dict[str, list[str]] = defaultdict(list)
    for i, d in final.items():
        if i not in matched:
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

    out += ["", f"E-mails sent: {emails} (.eml files in {mail_dir})"]
    out += _expectations(posted, final)
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


def _expectations(posted: dict[str, SampleDemand], final: dict[str, dict[str, Any]]) -> list[str]:
    """How many outcomes are the ones the sample data was designed to produce."""
    misses: Counter[str] = Counter()
    for i, sample in posted.items():
        status = final.get(i, {})
        got = "matched" if status.get("status") == "matched" else str(status.get("waiting_reason"))
        want = "matched" if sample.expect == "late" else sample.expect
        if got != want:
            misses[f"{sample.key} expected {want}, got {got}"] += 1
    lines = ["", f"Outcomes as designed: {len(posted) - len(misses)} of {len(posted)}."]
    lines += [f"  differs: {m}" for m in sorted(misses)]
    return lines
