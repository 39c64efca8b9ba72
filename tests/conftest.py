"""Shared fixtures: every server a test needs is started from here (plugin modules).

    tests.fixtures.relay     embedded broker, a whole relay in real processes
    tests.fixtures.sink      the SMTP sink that plays a remote provider
    tests.fixtures.tls       a test CA and certificates
    tests.fixtures.scanners  real clamd and rspamd on loopback
"""

pytest_plugins = [
    "tests.fixtures.tls",
    "tests.fixtures.sink",
    "tests.fixtures.relay",
    "tests.fixtures.scanners",
]
