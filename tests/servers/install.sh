#!/usr/bin/env bash
# Installs the real servers the tests start themselves: ClamAV's clamd and rspamd.
# Idempotent and quiet: does nothing when both are present. Needs root for apt-get;
# without root it only warns (the scanner tests then skip or fail with a clear message).
# The tests never use the system services: they start their own daemons on loopback
# ports with their own config, signature database and state under a temp dir, so the
# packages' own services are stopped and disabled when this script installs them.
set -u

missing=()
command -v clamd >/dev/null 2>&1 || missing+=(clamav-daemon)
command -v rspamd >/dev/null 2>&1 || missing+=(rspamd)
perl -MMail::DKIM -e1 >/dev/null 2>&1 || missing+=(libmail-dkim-perl)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/servers/install.sh: not root; cannot install ${missing[*]} (scanner tests need them)" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
# policy-rc.d 101: do not start the packages' own daemons (freshclam would reach for the internet).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1
status=$?
[ "$created_policy" -eq 1 ] && rm -f "$policy"
if [ $status -ne 0 ]; then
    echo "tests/servers/install.sh: apt-get install ${missing[*]} failed (status $status)" >&2
    exit $status
fi
for service in clamav-daemon clamav-freshclam rspamd; do
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now "$service" >/dev/null 2>&1 || true
    fi
done
exit 0
