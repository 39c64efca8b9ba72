"""What a naive regex gets wrong: numbers that look like personal data but are not."""

import pytest

from agents.dlp.inspection import find_matches
from tests.agents.dlp.helpers import found, text_message

NEGATIVES = [
    "Order number 4111111111111112 confirmed",             # card-shaped, Luhn fails
    "Order 1234-5678-9012-3456 confirmed",                  # card-shaped, Luhn fails
    "UPS tracking 1Z999AA10123456784",
    "USPS tracking 9400111899223397658538",
    "FedEx 7489 3046 1234",
    "ヤマト運輸 お問い合わせ番号 4567-8901-2345",
    "Request id 123e4567-e89b-12d3-a456-426614174000",
    "trace 550e8400-e29b-41d4-a716-446655440000",
    "at 2026-12-01T10:30:00Z",
    "epoch 1700000000000 ms",
    "logged 2024/05/17 10:30:45",
    "Call +1 (212) 555-0187",
    "Call 212-555-0187 or 212 555 0187",
    "電話 03-1234-5678 / 090-1234-5678",
    "〒100-0001 東京都千代田区",
    "Amount 4,111,111,111.11 USD",
    "Version 4.1111.1111.1111",
    "Card ending **** **** **** 4242",
    "IP 192.168.100.200 port 5432",
    "ISBN 978-3-16-148410-0",
    "Seat B12, gate A10, flight U21",
    "Your account was created on 2019-05-17",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_detector_fires(text):
    assert find_matches(text) == []


def test_whole_shipping_message_is_clean():
    body = "\n".join(NEGATIVES)
    assert found(text_message(body)) == {}


def test_luhn_valid_but_embedded_in_longer_number():
    # 22-digit USPS numbers contain 16-digit windows; only whole chains count.
    assert find_matches("tracking 9400 1118 9922 3397 6585 38") == []
