"""Kafka topics (contract). Offers, demands and matches are keyed by service_type and share
one partition count, so all events of one service type meet in one matcher instance."""

OFFERS = "welfare.offers.v1"
DEMANDS = "welfare.demands.v1"
MATCHES = "welfare.matches.v1"
CONTACTS = "welfare.contacts.v1"
NOTIFICATIONS = "welfare.notifications.v1"

CO_PARTITIONED = (OFFERS, DEMANDS, MATCHES)
PUBLIC = (OFFERS, DEMANDS, MATCHES, NOTIFICATIONS)
ALL = (OFFERS, DEMANDS, MATCHES, CONTACTS, NOTIFICATIONS)


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`: the original message plus error headers."""
    return f"{topic}.dlq"


# Error headers on DLQ messages.
DLQ_REASON_HEADER = "x-dlq-reason"
DLQ_ERROR_HEADER = "x-dlq-error"
DLQ_SOURCE_TOPIC_HEADER = "x-dlq-source-topic"
DLQ_SOURCE_PARTITION_HEADER = "x-dlq-source-partition"
DLQ_SOURCE_OFFSET_HEADER = "x-dlq-source-offset"
DLQ_CONSUMER_HEADER = "x-dlq-consumer"

# The consumer group whose committed offsets mark how far `concilia dlq replay` got.
DLQ_REPLAY_GROUP = "concilia-dlq-replay"
