"""The Isola sample data set (real street coordinates) and the demo that loads it through
the HTTP APIs and reports what the matcher and notifier did."""
