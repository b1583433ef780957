"""The notifier: e-mails both parties of a match, exactly once per party (port 8004)."""
