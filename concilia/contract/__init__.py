"""The public contract, in one place: taxonomy, topics, the event envelope and every model
that crosses a service boundary (HTTP in/out, Kafka events). Every service imports it;
`python -m concilia.contract` writes the JSON Schemas generated from it."""
