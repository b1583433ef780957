"""Failpoints: named places where a fault test makes the process die at once, to force a
crash exactly between an effect and its commit — where random SIGKILLs rarely land.

Off unless `CONCILIA_FAILPOINTS` arms them, with a probability per pass, e.g.
`CONCILIA_FAILPOINTS="consumer.after_effect=0.01,mail.after_send=0.02"`. Only the fault
soak and the crash tests set it. The places:

- `consumer.after_effect`: a consumed message's effect is committed in the database, its
  Kafka offset is not (the message comes again; the consumer's idempotence makes it a
  no-op);
- `outbox.after_publish`: Kafka acknowledged a batch of outbox rows, they are not marked
  published (they go out again; consumers drop the copies by event id);
- `matcher.in_transaction`: the matcher has written a batch's effects inside its transaction,
  not committed it (the documents stay locked until the database aborts the abandoned
  transaction: a minute in mongod, the same in the embedded server — see
  concilia/embedded/mongodb_server.py);
- `mail.after_send`: the SMTP server accepted a mail, the ledger does not know (the one
  duplicate-mail window: the job's lease ends and the mail is sent again).
"""

import logging
import os
import random

log = logging.getLogger("concilia.failpoints")

EXIT_CODE = 86  # distinct from a SIGKILL's, so a supervisor's log tells them apart


def _armed(spec: str) -> dict[str, float]:
    armed: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, probability = item.partition("=")
        armed[name.strip()] = float(probability or "1")
    return armed


_ARMED = _armed(os.environ.get("CONCILIA_FAILPOINTS", ""))


def failpoint(name: str) -> None:
    """Die here, at once and without cleanup, if the failpoint `name` is armed and fires."""
    probability = _ARMED.get(name)
    if probability and random.random() < probability:
        log.warning("failpoint fired, exiting", extra={"failpoint": name})
        logging.shutdown()
        os._exit(EXIT_CODE)
