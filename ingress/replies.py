"""Every SMTP reply ingress sends, named after its meaning (RFC 5321, RFC 3463 codes).

One place, so the wording a sender sees is consistent and reviewable.
"""

ACCEPTED = "250 2.0.0 Ok: queued as {message_id}"
SENDER_OK = "250 2.1.0 Sender ok"
RECIPIENT_OK = "250 2.1.5 Recipient ok"

AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
AUTH_CLIENT_NOT_ALLOWED = "535 5.7.1 Authentication refused: this application may not connect from {ip}"
AUTH_REQUIRED = "530 5.7.0 Authentication required"

SENDER_NOT_GRANTED = "550 5.7.1 Sender <{address}> is not granted to application {app}"
NULL_SENDER_REFUSED = "550 5.7.1 A null envelope sender is not accepted from applications"
BAD_ADDRESS = "553 5.1.3 Address syntax not accepted: {reason}"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients (at most {limit} per message)"
NO_RECIPIENTS = "554 5.5.1 No valid recipients"

FROM_MISSING = "550 5.7.1 Message has no From header"
FROM_MULTIPLE = "550 5.7.1 Message has more than one From header"
FROM_NOT_GRANTED = "550 5.7.1 Header From address <{address}> is not granted to application {app}"
FROM_UNPARSEABLE = "550 5.7.1 Header From could not be parsed"
SENDER_HEADER_NOT_GRANTED = "550 5.7.1 Sender header address <{address}> is not granted to application {app}"
MESSAGE_TOO_BIG = "552 5.3.4 Message too big: the limit is {limit} bytes"
MALFORMED_HEADERS = "550 5.6.0 Message header section could not be parsed"

RATE_LIMITED = "450 4.7.1 Rate limit reached for application {app}: try again later"
BROKER_UNAVAILABLE = "451 4.3.0 Temporary failure: message not queued, try again later"
CONFIG_CHANGED = "451 4.7.1 Application or tenant no longer configured, try again later"
SERVICE_NOT_READY = "421 4.3.2 Service not ready, try again later"
