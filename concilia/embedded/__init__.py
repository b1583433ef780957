"""The embedded stack: real wire-protocol servers from PyPI (Tansu for Kafka, SecantusDB for
MongoDB, an aiosmtpd sink for SMTP) and a supervisor for the four services. No Docker."""
