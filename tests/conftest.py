"""Shared fixtures: every server a test needs is started from here (plugin modules).

    tests.fixtures.relay     embedded broker, a whole relay in real processes
    tests.fixtures.sink      the SMTP sink that plays a remote provider
    tests.fixtures.tls       a test CA and certificates
    tests.fixtures.scanners  real clamd and rspamd on loopback
    tests.fixtures.dns       a DNS server on loopback (MX, TLSA, MTA-STS TXT, AD bit)
    tests.fixtures.smtp_servers  loopback SMTP servers that behave like providers
"""

pytest_plugins = [
    "tests.fixtures.tls",
    "tests.fixtures.sink",
    "tests.fixtures.relay",
    "tests.fixtures.scanners",
    "tests.fixtures.dns",
    "tests.fixtures.smtp_servers",
]
