"""The notifier's pure parts: which e-mails a match asks for, retries, and what the e-mails
say (words, rendering, the RFC 5322 message). No Kafka, Mongo or SMTP here."""
