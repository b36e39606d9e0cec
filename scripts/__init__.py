"""Set-up scripts run from the Makefile; importable so tests and benchmarks reuse them."""
