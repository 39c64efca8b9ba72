"""Each detector: valid values match, values whose checksum or rules fail do not."""

import pytest

from agents.dlp.detectors import card_brand, validate_date
from agents.dlp.engine import Scanner
from agents.dlp.inspection import find_matches
from postwarden.config.dlp import DETECTORS


def values(text: str, detector: str) -> list[str]:
    return [m.value for m in find_matches(text) if m.type == detector]


VALID = [
    ("credit_card", "Card 4111 1111 1111 1111 charged", "4111111111111111"),
    ("credit_card", "Amex 3782-822463-10005", "378282246310005"),
    ("credit_card", "MC 5555555555554444.", "5555555555554444"),
    ("credit_card", "2-series 2223003122003222", "2223003122003222"),
    ("credit_card", "JCB 3530111333300000", "3530111333300000"),
    ("credit_card", "dotted 4012.8888.8888.1881 ok", "4012888888881881"),
    ("credit_card", "spaced 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 end", "4111111111111111"),
    ("us_ssn", "SSN: 536-22-1234", "536221234"),
    ("us_ssn", "ssn 536 22 1234", "536221234"),
    ("us_ssn", "Social security 536221234", "536221234"),
    ("iban", "IBAN DE89 3704 0044 0532 0130 00 EUR", "DE89370400440532013000"),
    ("iban", "pay GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("us_bank_routing", "Routing number: 021000021", "021000021"),
    ("us_bank_routing", "ABA 0110-0001-5", "011000015"),
    ("jp_my_number", "個人番号：1234 5678 9018", "123456789018"),
    ("jp_my_number", "マイナンバー １２３４－５６７８－９０１８", "123456789018"),
    ("uk_nino", "NI number AB 12 34 56 C", "AB123456C"),
    ("uk_nino", "nino: JG103759A", "JG103759A"),
    ("nhs_number", "NHS number: 943 476 5919", "9434765919"),
    ("nhs_number", "NHS no 9434765919", "9434765919"),
    ("us_npi", "Provider NPI 1234567893", "1234567893"),
    ("icd10_code", "Diagnosis: E11.9 (type 2 diabetes)", "E11.9"),
    ("icd10_code", "ICD-10 S82.101A", "S82.101A"),
    ("icd10_code", "傷病名：J45.909", "J45.909"),
    ("date_of_birth", "Date of birth: 05/17/1980", "1980-05-17"),
    ("date_of_birth", "DOB 17 May 1980", "1980-05-17"),
    ("date_of_birth", "born on May 17, 1980", "1980-05-17"),
    ("date_of_birth", "生年月日：1980年5月17日", "1980-05-17"),
    ("date_of_birth", "生年月日 昭和55年5月17日", "1980-05-17"),
    ("date_of_birth", "誕生日: 平成元年1月8日", "1989-01-08"),
    ("date_of_birth", "Birth date 17.05.1980", "1980-05-17"),
    ("email_address_bulk", "Write to A.B+tag@Example.com.", "a.b+tag@example.com"),
    ("email_address_bulk", "(x@mail.example.co.uk)", "x@mail.example.co.uk"),
]


@pytest.mark.parametrize("detector,text,value", VALID)
def test_valid_values_match(detector, text, value):
    assert values(text, detector) == [value]


INVALID = [
    ("credit_card", "Card 4111 1111 1111 1112 charged"),        # Luhn fails
    ("credit_card", "Card 1234 5678 9012 3452"),                 # Luhn ok, no issuer range
    ("credit_card", "Card 4111 1111 1111 111"),                  # wrong length for Visa
    ("credit_card", "Card 0000 0000 0000 0000"),
    ("us_ssn", "SSN: 000-12-3456"),                              # area 000
    ("us_ssn", "SSN: 666-12-3456"),                              # area 666
    ("us_ssn", "SSN: 912-12-3456"),                              # area 9xx (ITIN range)
    ("us_ssn", "SSN: 536-00-1234"),                              # group 00
    ("us_ssn", "SSN: 536-22-0000"),                              # serial 0000
    ("us_ssn", "SSN: 078-05-1120"),                              # the Woolworth card
    ("us_ssn", "Number 536221234"),                              # unformatted, no context
    ("iban", "IBAN DE89 3704 0044 0532 0130 01"),                # mod 97 fails
    ("iban", "IBAN GB82 WEST 1234 5698 7654"),                   # wrong length for GB
    ("us_bank_routing", "Routing number: 021000022"),            # checksum fails
    ("us_bank_routing", "Order 021000021"),                      # no context
    ("us_bank_routing", "Routing 991000021"),                    # not a Federal Reserve prefix
    ("jp_my_number", "個人番号：1234 5678 9017"),                # check digit fails
    ("jp_my_number", "注文番号：1234 5678 9018"),                # no context
    ("uk_nino", "NI number BG 12 34 56 C"),                      # BG prefix never issued
    ("uk_nino", "NI number DA 12 34 56 C"),                      # D never a first letter
    ("uk_nino", "NI number AB 12 34 56 E"),                      # suffix only A-D
    ("nhs_number", "NHS number: 943 476 5918"),                  # mod 11 fails
    ("nhs_number", "Call 943 476 5919"),                         # no context
    ("us_npi", "Provider NPI 1234567890"),                       # Luhn over 80840 fails
    ("us_npi", "Provider NPI 3234567893"),                       # must start with 1 or 2
    ("us_npi", "Invoice 1234567893"),                            # no context
    ("icd10_code", "Seat E11 on flight U21"),                    # no context
    ("icd10_code", "Diagnosis: U07.1"),                          # U is reserved
    ("date_of_birth", "Appointment on 05/17/1980"),              # no context
    ("date_of_birth", "Date of birth: 02/30/1980"),              # no such day
    ("date_of_birth", "Date of birth: 05/17/2999"),              # in the future
    ("date_of_birth", "DOB field updated 2024-05-17T10:30:00Z"), # a timestamp
    ("email_address_bulk", "not an address: a@b, @example.com, user@localhost"),
]


@pytest.mark.parametrize("detector,text", INVALID)
def test_invalid_values_do_not_match(detector, text):
    assert values(text, detector) == []


def test_card_brands():
    assert card_brand("4111111111111111") == "visa"
    assert card_brand("378282246310005") == "amex"
    assert card_brand("6011111111111117") == "discover"
    assert card_brand("9111111111111111") is None


def test_date_order_follows_separator():
    assert validate_date("03/06/1979") == "1979-03-06"     # US month first
    assert validate_date("03.06.1979") == "1979-06-03"     # European day first
    assert validate_date("13/06/1979") == "1979-06-13"     # only one reading


def test_dob_context_names_the_nearest_date_only():
    text = "Date of birth: 05/17/1980\nStart date: 2026-01-05"
    assert values(text, "date_of_birth") == ["1980-05-17"]


def test_shared_span_goes_to_nearest_context():
    text = "Employee SSN: 536-22-1234\nRouting number: 021000021\nSSN on file ok"
    assert values(text, "us_bank_routing") == ["021000021"]
    assert values(text, "us_ssn") == ["536221234"]


def test_bulk_email_counts_distinct_addresses_only_above_threshold():
    from tests.agents.dlp.helpers import found, text_message
    few = text_message("\n".join(f"user{i}@example.com" for i in range(5)))
    many = text_message("\n".join(f"user{i % 12}@example.com" for i in range(40)))
    assert ("email_address_bulk", "body") not in found(few)
    assert found(many)[("email_address_bulk", "body")] == 12


@pytest.mark.parametrize("engine", ["hyperscan", "re"])
def test_both_engines_find_the_same(engine):
    text = " ".join(t for _, t, _ in VALID) + " " + " ".join(t for _, t in INVALID)
    data = text.encode()
    ours = Scanner(DETECTORS, engine=engine).scan(data)
    reference = Scanner(DETECTORS, engine="re").scan(data)
    assert sorted((m.type, m.value, m.start) for m in ours) == \
        sorted((m.type, m.value, m.start) for m in reference)
    assert len(ours) >= len(VALID) - 5
