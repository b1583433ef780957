"""`concilia up | demo | token | stats | dlq`: the embedded stack on one machine, no Docker
(README: two commands), and the network's gap table."""

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import urllib.error
from pathlib import Path
from types import FrameType

from concilia.embedded.monitoring import INSTALL_HINT, Monitoring, prometheus_binary
from concilia.embedded.processes import OWNER_ONLY_UMASK, PortInUse
from concilia.embedded.stack import SERVICES, Ports, Stack, load_or_create_secret
from concilia.embedded.stats import fetch_insight, gap_table
from concilia.platform.auth import Role, issue_token
from concilia.platform.kafka import DEFAULT_PARTITIONS
from concilia.platform.settings import secret_problem

# The demo's answer window: short enough to show a proposal expiring, long enough for every
# other family and provider to answer by their links (MATCH_ANSWER_TTL_SECONDS overrides it).
DEMO_ANSWER_TTL_SECONDS = 60.0


class Shutdown(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM so that start-up is interrupted too."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `concilia` command; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    home = _home(args.home)
    if args.command in ("up", "demo"):
        os.umask(OWNER_ONLY_UMASK)  # state holds personal data: owner-only files everywhere
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        home.chmod(0o700)
    if args.command == "token":
        return _token(home, args.org, args.role, args.sub)
    if args.command == "dlq":
        return _dlq(args.action, args.topic, args.bootstrap)
    if args.command == "stats":
        return _stats(home, args.matcher_port, as_json=args.json)
    given = os.environ.get("AUTH_JWT_SECRET")  # otherwise the stack generates a good one
    if args.command in ("up", "demo") and given:
        problem = secret_problem(given)
        if problem is not None:
            print(f"concilia: {problem}", file=sys.stderr, flush=True)
            return 2
    ports = Ports(**{name: getattr(args, f"{name}_port") for name in Ports.names()})
    ttl: float | None = None
    if args.command == "demo":
        # The demo's data never mixes with what `concilia up` keeps in the same home.
        home = home / "demo"
        ttl = float(os.environ.get("MATCH_ANSWER_TTL_SECONDS") or DEMO_ANSWER_TTL_SECONDS)
    stack = Stack(
        home,
        ports,
        partitions=args.partitions,
        answer_ttl_seconds=ttl,
        say=_say,
        monitoring=_monitoring(home, args.monitoring, args.prometheus_port),
    )
    return _run(stack, demo=args.command == "demo", keep=getattr(args, "keep", False))


def _monitoring(home: Path, wanted: bool, port: int) -> Monitoring | None:
    if not wanted:
        return None
    if prometheus_binary() is None:
        _say(f"--monitoring: Prometheus is not installed, going on without it ({INSTALL_HINT})")
        return None
    return Monitoring(home, port)


def _stats(home: Path, matcher_port: int, *, as_json: bool) -> int:
    """Print the gap table from the matcher's /v1/insight, with an operator token."""
    token = issue_token(
        load_or_create_secret(home), sub="concilia-stats", org="operators", roles=["operator"]
    )
    url = f"http://127.0.0.1:{matcher_port}"
    try:
        insight = fetch_insight(url, token)
    except urllib.error.HTTPError as exc:
        print(f"concilia: {url}/v1/insight answered {exc.code}", file=sys.stderr, flush=True)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(
            f"concilia: the matcher does not answer on {url} ({exc}); is `concilia up` running?",
            file=sys.stderr,
            flush=True,
        )
        return 1
    print(json.dumps(insight, indent=2) if as_json else gap_table(insight), flush=True)
    return 0


def _home(flag: str | None) -> Path:
    return Path(flag or os.environ.get("CONCILIA_HOME") or ".concilia").expanduser().resolve()


def _say(line: str) -> None:
    print(f"concilia: {line}", flush=True)


def _token(home: Path, org: str, roles: list[str], sub: str | None) -> int:
    secret = load_or_create_secret(home)
    token = issue_token(secret, sub=sub or f"dev@{org}", org=org, roles=roles)
    print(f"# development token for org {org!r}, roles {', '.join(roles)}; valid 12 hours")
    print("# use it as: Authorization: Bearer <token>")
    print(token)
    return 0


def _dlq(action: str, topic: str, bootstrap: str) -> int:
    """`concilia dlq list TOPIC` prints each dead letter on one line; `replay` re-publishes
    the ones not replayed yet to their source topic."""
    import asyncio

    from concilia.platform import dead_letters

    try:
        if action == "list":
            letters = asyncio.run(dead_letters.list_dead_letters(bootstrap, topic))
            for letter in letters:
                print(dead_letters.describe(letter))
            print(f"# {len(letters)} dead letter(s) on {dead_letters.dlq_topic(topic)}")
            return 0
        replayed = asyncio.run(dead_letters.replay_dead_letters(bootstrap, topic))
    except TimeoutError as exc:  # the broker was too slow to read every letter
        print(f"concilia: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"# {replayed} dead letter(s) replayed from {dead_letters.dlq_topic(topic)}")
    return 0


# Ctrl-C, a service manager's stop, a closed terminal or SSH session: the children run in
# sessions of their own (so a Ctrl-C reaches `up` alone), so only `up` can stop them.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _run(stack: Stack, *, demo: bool, keep: bool) -> int:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        # Only once: a second Ctrl-C must not interrupt the orderly stop.
        for stop in STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)
        raise Shutdown

    for stop in STOP_SIGNALS:
        signal.signal(stop, interrupt)
    try:
        if demo and not keep:
            _check_ports_then_clean(stack)
        stack.start()
        _print_where(stack)
        if demo:
            from concilia.sample.demo import run_demo  # imported late: only the demo needs it

            return run_demo(stack)
        threading.Event().wait()  # until a signal raises Shutdown
        return 0
    except PortInUse as exc:
        print(f"concilia: {exc}", file=sys.stderr, flush=True)
        return 2
    except Shutdown:
        _say("stopping")
        return 0
    except (TimeoutError, RuntimeError) as exc:
        print(f"concilia: could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for stop in STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)
        stack.stop()
        _say("stopped")


def _check_ports_then_clean(stack: Stack) -> None:
    """The demo starts from an empty database and mail folder (the broker is in-memory
    anyway); the ports are checked first so a running stack's data is never wiped."""
    from concilia.embedded.stack import check_ports

    check_ports(stack.ports)
    for folder in (stack.home / "db", stack.mail_dir):
        shutil.rmtree(folder, ignore_errors=True)


def _print_where(stack: Stack) -> None:
    lines = ["", "Concilia is up:"]
    for name in SERVICES:
        url = stack.url(name)
        lines.append(f"  {name:<9} {url}   OpenAPI {url}/openapi.json   metrics {url}/metrics")
    lines += [
        f"  kafka     127.0.0.1:{stack.ports.kafka} (Tansu, in memory)",
        f"  mongodb   mongodb://127.0.0.1:{stack.ports.mongodb}/?directConnection=true"
        f"  (data in {stack.home / 'db'})",
        f"  smtp      127.0.0.1:{stack.ports.smtp}  (e-mails as .eml files in {stack.mail_dir})",
        f"  logs      {stack.log_dir}",
        "  token     concilia token --org my-org --role requester   (roles: "
        + ", ".join(r.value for r in Role)
        + f"; CONCILIA_HOME={stack.home})",
        "  stats     concilia stats   (the network's gap table, from the matcher; "
        f"CONCILIA_HOME={stack.home})",
    ]
    if stack.monitoring is not None:
        status = stack.monitoring.wait_for_targets()
        lines.append(f"  prometheus {stack.monitoring.url}   {status.line()}")
    lines += ["Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1-65535)")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="concilia", description=__doc__)
    parser.add_argument("--home", help="state folder (default $CONCILIA_HOME or ./.concilia)")
    commands = parser.add_subparsers(dest="command")
    up = commands.add_parser("up", help="start the whole stack until Ctrl-C")
    demo = commands.add_parser("demo", help="start the stack, load the Isola sample data, report")
    demo.add_argument("--keep", action="store_true", help="keep the database and mail folder")
    for sub in (up, demo):
        for name in Ports.names():
            # A string default goes through `type` too, so a bad env value is reported alike.
            default = os.environ.get(Ports.env_var(name), str(Ports().of(name)))
            sub.add_argument(
                Ports.flag(name),
                dest=f"{name}_port",
                type=_port,
                default=default,
                help=f"default {default} (env {Ports.env_var(name)})",
            )
        sub.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
        sub.add_argument(
            "--monitoring",
            action="store_true",
            help="also start Prometheus (Debian's binary) with the alert rules",
        )
        prometheus = os.environ.get("CONCILIA_PROMETHEUS_PORT", "9090")
        sub.add_argument(
            "--prometheus-port",
            type=_port,
            default=prometheus,
            help=f"default {prometheus} (env CONCILIA_PROMETHEUS_PORT)",
        )
    token = commands.add_parser("token", help="print a development bearer token (last line)")
    token.add_argument("--org", required=True, help="organisation id")
    token.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="repeatable",
    )
    token.add_argument("--sub", help="subject (default dev@ORG)")
    stats = commands.add_parser("stats", help="print the network's gap table (operators)")
    matcher = os.environ.get(Ports.env_var("matcher"), str(Ports().matcher))
    stats.add_argument(
        Ports.flag("matcher"),
        dest="matcher_port",
        type=_port,
        default=matcher,
        help=f"default {matcher} (env {Ports.env_var('matcher')})",
    )
    stats.add_argument("--json", action="store_true", help="print the JSON of GET /v1/insight")
    dlq = commands.add_parser("dlq", help="list or replay the dead letters of a topic")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("topic", help="e.g. welfare.matches.v1 (or its .dlq name)")
    dlq.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{Ports().kafka}"),
        help="Kafka bootstrap servers (default $KAFKA_BOOTSTRAP_SERVERS or the embedded broker)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
