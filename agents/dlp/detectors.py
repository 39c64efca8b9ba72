"""The DLP detectors: candidate patterns, validators, context words and masks.

Each detector is a candidate pattern (matched by the one-pass engine in
`engine.py`) plus a validator that runs only on candidates and returns the
value in a canonical form (digits only, upper case, ISO date) or None.  The
canonical value is used to count distinct hits and is never stored: findings
keep at most a masked sample.

Checksums come from python-stdnum where it has them (Luhn, US SSN rules, ABA
routing, IBAN mod 97 with per-country formats, My Number, NHS mod 11); issuer
ranges for cards and the UK NINO prefix rules are written here.

Detectors that a random number passes too often, or that are not numbers
(dates, diagnosis codes), need a context word nearby:

    context never        credit_card, iban, uk_nino, email_address_bulk
    context unformatted  us_ssn (123-45-6789 alone is enough; 123456789 is not)
    context always       us_bank_routing, jp_my_number, nhs_number, us_npi,
                         icd10_code, date_of_birth

Reads: candidate byte strings cut from decoded message text (untrusted).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Callable

from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.gb import nhs as std_nhs
from stdnum.jp import in_ as std_my_number
from stdnum.us import rtn as std_rtn
from stdnum.us import ssn as std_ssn

from postwarden.config.dlp import DETECTORS

ALNUM = rb"0-9A-Za-z"
EMAIL_CHARS = rb"0-9A-Za-z._%+\-"

# How far from a candidate (in bytes of UTF-8 text) a context word may be.
CONTEXT_BEFORE = 160
CONTEXT_AFTER = 48


@dataclass(frozen=True)
class Detector:
    name: str
    pattern: bytes                   # candidate shape, no boundaries
    validate: Callable[[str], str | None]
    mask: Callable[[str], str]
    context: str = "never"           # never | unformatted | always
    boundary: bytes = ALNUM          # characters that may not come before a candidate
    trail: bytes | None = None       # ... nor after it (default: the same)
    caseless: bool = False
    embedded_ok: bool = True         # False: reject 123-45-6789 inside 0-123-45-6789-1
    # "nearest": the context word must come before the candidate and after the
    # previous candidate of this detector (a label names the value that follows it).
    context_span: str = "around"
    not_followed_by: bytes | None = None   # e.g. a time of day after a date: a timestamp
    # For Hyperscan: (character class, pattern) when start-of-match tracking would be
    # slow (an unbounded leading class); the scanner then finds the start itself by
    # extending left from the pattern's first byte over the class.
    left_extended: tuple[bytes, bytes] | None = None

    def needs_context(self, raw: str) -> bool:
        if self.context == "always":
            return True
        if self.context == "unformatted":
            return raw.isdigit()
        return False


_NOT_DIGITS = re.compile(r"[^0-9]")


def _digits(raw: str) -> str:
    return _NOT_DIGITS.sub("", raw)


# -- payment cards -------------------------------------------------------------
def card_brand(number: str) -> str | None:
    """The card scheme whose issuer range and length fit `number` (digits), or None."""
    n = len(number)
    if n < 12 or n > 19:
        return None
    p2, p3, p4, p6 = int(number[:2]), int(number[:3]), int(number[:4]), int(number[:6])
    if number[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= p3 <= 305 or p4 == 3095 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763) and 12 <= n <= 19:
        return "maestro"
    return None


def _valid_card(number: str) -> bool:
    return card_brand(number) is not None and luhn.is_valid(number)


def validate_card(raw: str) -> str | None:
    """Longest prefix of the digit chain (cut at a separator) that is a card."""
    number = _digits(raw)
    if _valid_card(number):
        return number
    # "4111 1111 1111 1111 12/27" reaches here as a 18-digit chain: try the
    # prefixes that end where a group ends, longest first.
    for cut in range(len(raw) - 1, 0, -1):
        if raw[cut] in " .-":
            prefix = _digits(raw[:cut])
            if len(prefix) < 12:
                break
            if _valid_card(prefix):
                return prefix
    return None


def mask_card(value: str) -> str:
    return "**** **** **** " + value[-4:]


# -- US ------------------------------------------------------------------------
def validate_ssn(raw: str) -> str | None:
    number = _digits(raw)
    return number if len(number) == 9 and std_ssn.is_valid(number) else None


def mask_ssn(value: str) -> str:
    return "***-**-" + value[-4:]


_ABA_PREFIXES = set(range(0, 13)) | set(range(21, 33)) | set(range(61, 73)) | {80}


def validate_routing(raw: str) -> str | None:
    number = _digits(raw)
    if len(number) != 9 or int(number[:2]) not in _ABA_PREFIXES or number == "000000000":
        return None
    return number if std_rtn.is_valid(number) else None


def validate_npi(raw: str) -> str | None:
    number = _digits(raw)
    if len(number) != 10 or number[0] not in "12":
        return None
    return number if luhn.is_valid("80840" + number) else None


# -- Japan, UK -----------------------------------------------------------------
def validate_my_number(raw: str) -> str | None:
    number = _digits(raw)
    if len(number) != 12 or len(set(number)) == 1:
        return None
    return number if std_my_number.is_valid(number) else None


_NINO_BAD_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def validate_nino(raw: str) -> str | None:
    compact = raw.replace(" ", "").upper()
    if len(compact) != 9 or compact[:2] in _NINO_BAD_PREFIXES:
        return None
    if not compact[2:8].isdigit() or compact[8] not in "ABCD":
        return None
    if compact[0] in "DFIQUV" or compact[1] in "DFIOQUV":
        return None
    return compact


def mask_nino(value: str) -> str:
    return "** ** ** " + value[6:8] + " *"


def validate_nhs(raw: str) -> str | None:
    number = _digits(raw)
    if len(number) != 10 or len(set(number)) == 1:
        return None
    return number if std_nhs.is_valid(number) else None


def mask_nhs(value: str) -> str:
    return "*** *** " + value[-4:]


# -- IBAN ----------------------------------------------------------------------
def validate_iban(raw: str) -> str | None:
    """IBAN with its country's length and mod 97; drops trailing words ("… 00 EUR")."""
    text = raw
    while True:
        compact = text.replace(" ", "").upper()
        if 15 <= len(compact) <= 34 and std_iban.is_valid(compact):
            return compact
        cut = text.rfind(" ")
        if cut < 15:
            return None
        text = text[:cut]


def mask_iban(value: str) -> str:
    return value[:2] + "** **** **** " + value[-4:]


# -- health ----------------------------------------------------------------------
def validate_icd10(raw: str) -> str | None:
    code = raw.upper()
    if not re.fullmatch(r"[A-TV-Z][0-9][0-9AB](?:\.[0-9A-Z]{1,4})?", code):
        return None
    return code


def mask_icd10(value: str) -> str:
    return value[0] + "**" + (".*" if "." in value else "")


# -- dates of birth --------------------------------------------------------------
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_ERAS = {"明治": 1867, "大正": 1911, "昭和": 1925, "平成": 1988, "令和": 2018,
         "M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}
_MONTH_WORD = rb"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATE_PATTERN = (
    rb"(?:19|20)\d\d[-/.]\d\d?[-/.]\d\d?"                       # 1980-05-17
    rb"|\d\d?[-/.]\d\d?[-/.](?:19|20)\d\d"                      # 17/05/1980, 05/17/1980
    rb"|(?:19|20)\d\d\xe5\xb9\xb4 ?\d\d?\xe6\x9c\x88 ?\d\d?\xe6\x97\xa5"   # 1980年5月17日
    rb"|(?:\xe6\x98\x8e\xe6\xb2\xbb|\xe5\xa4\xa7\xe6\xad\xa3|\xe6\x98\xad\xe5\x92\x8c"
    rb"|\xe5\xb9\xb3\xe6\x88\x90|\xe4\xbb\xa4\xe5\x92\x8c) ?(?:\d\d?|\xe5\x85\x83)\xe5\xb9\xb4"
    rb" ?\d\d? ?\xe6\x9c\x88 ?\d\d? ?\xe6\x97\xa5"                   # 昭和55年5月17日
    rb"|[MTSHR]\d\d?[./]\d\d?[./]\d\d?"                          # S55.5.17
    rb"|" + _MONTH_WORD + rb" \d\d?(?:st|nd|rd|th)?,? (?:19|20)\d\d"   # May 17, 1980
    rb"|\d\d?(?:st|nd|rd|th)? " + _MONTH_WORD + rb",? (?:19|20)\d\d"   # 17 May 1980
)


def _date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        born = datetime.date(year, month, day)
    except ValueError:
        return None
    today = datetime.date.today()
    if born > today or year < today.year - 125:
        return None
    return born


def validate_date(raw: str) -> str | None:
    text = raw.strip()
    m = re.fullmatch(r"(\d{4})[-/.](\d\d?)[-/.](\d\d?)", text)
    if m:
        born = _date(int(m[1]), int(m[2]), int(m[3]))
        return born.isoformat() if born else None
    m = re.fullmatch(r"(\d\d?)([-/.])(\d\d?)[-/.](\d{4})", text)
    if m:
        a, b, year = int(m[1]), int(m[3]), int(m[4])
        if m[2] == "/":     # 05/17/1980: US order first, then 17/05/1980
            born = _date(year, a, b) or _date(year, b, a)
        else:               # 17.05.1980, 17-05-1980: day first
            born = _date(year, b, a) or _date(year, a, b)
        return born.isoformat() if born else None
    m = re.fullmatch(r"(\d{4})年 ?(\d\d?)月 ?(\d\d?)日", text)
    if m:
        born = _date(int(m[1]), int(m[2]), int(m[3]))
        return born.isoformat() if born else None
    m = re.fullmatch(r"(明治|大正|昭和|平成|令和|[MTSHR]) ?(\d\d?|元)[年./] ?(\d\d?) ?[月./] ?(\d\d?)日?",
                     text)
    if m:
        year = 1 if m[2] == "元" else int(m[2])
        born = _date(_ERAS[m[1]] + year, int(m[3]), int(m[4]))
        return born.isoformat() if born else None
    m = re.fullmatch(r"([A-Za-z]+)\.? (\d\d?)(?:st|nd|rd|th)?,? (\d{4})", text)
    if m and m[1][:3].lower() in _MONTHS:
        born = _date(int(m[3]), _MONTHS[m[1][:3].lower()], int(m[2]))
        return born.isoformat() if born else None
    m = re.fullmatch(r"(\d\d?)(?:st|nd|rd|th)? ([A-Za-z]+)\.?,? (\d{4})", text)
    if m and m[2][:3].lower() in _MONTHS:
        born = _date(int(m[3]), _MONTHS[m[2][:3].lower()], int(m[1]))
        return born.isoformat() if born else None
    return None


def mask_date(value: str) -> str:
    return "****-**-**"


# -- email addresses ---------------------------------------------------------------
def validate_email(raw: str) -> str | None:
    local, _, domain = raw.rpartition("@")
    local = local.strip(".")
    if not local or len(local) > 64 or ".." in raw or domain.startswith("-"):
        return None
    return f"{local}@{domain}".lower()


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return local[:1] + "***@" + domain


def mask_last4(value: str) -> str:
    return "*" * max(len(value) - 4, 0) + value[-4:]


EMAIL_DOMAIN = rb"[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*\.[A-Za-z]{2,24}"


# -- the table ---------------------------------------------------------------------
TABLE: dict[str, Detector] = {d.name: d for d in (
    Detector("credit_card", rb"\d(?:[ .\-]?\d){12,18}", validate_card, mask_card),
    Detector("us_ssn", rb"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{9}", validate_ssn, mask_ssn,
             context="unformatted", embedded_ok=False),
    Detector("iban", rb"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}", validate_iban, mask_iban),
    Detector("us_bank_routing", rb"\d{4}-\d{4}-\d|\d{9}", validate_routing, mask_last4,
             context="always", embedded_ok=False),
    Detector("jp_my_number", rb"\d{4}[ \-]?\d{4}[ \-]?\d{4}", validate_my_number, mask_last4,
             context="always", embedded_ok=False),
    Detector("uk_nino", rb"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
             validate_nino, mask_nino),
    Detector("nhs_number", rb"\d{3}[ \-]?\d{3}[ \-]?\d{4}", validate_nhs, mask_nhs,
             context="always", embedded_ok=False),
    Detector("us_npi", rb"\d{10}", validate_npi, mask_last4, context="always",
             embedded_ok=False),
    Detector("icd10_code", rb"[A-TV-Z]\d[0-9AB](?:\.[0-9A-Z]{1,4})?", validate_icd10,
             mask_icd10, context="always"),
    Detector("date_of_birth", DATE_PATTERN, validate_date, mask_date, context="always",
             caseless=True, embedded_ok=False, context_span="nearest",
             not_followed_by=rb"(?:T| {1,2}|, )\d\d?:\d\d"),
    Detector("email_address_bulk",
             rb"[0-9A-Za-z._%+\-]{1,64}@" + EMAIL_DOMAIN,
             validate_email, mask_email, boundary=EMAIL_CHARS, trail=rb"0-9A-Za-z_%+\-",
             left_extended=(rb"0-9A-Za-z._%+\-", b"@" + EMAIL_DOMAIN)),
)}
assert tuple(TABLE) == DETECTORS, "detector table and config names must agree"

# Context words, by detector.  ASCII words match whole words, case-insensitively.
CONTEXT_WORDS: dict[str, tuple[str, ...]] = {
    "us_ssn": ("ssn", "ssns", "social security", "ss#", "ss #", "社会保障番号"),
    "us_bank_routing": ("routing", "aba", "rtn", "transit number", "ルーティング", "銀行コード"),
    "jp_my_number": ("my number", "mynumber", "個人番号", "マイナンバー"),
    "nhs_number": ("nhs",),
    "us_npi": ("npi", "national provider"),
    "icd10_code": ("icd", "icd10", "icd-10", "diagnosis", "diagnoses", "diagnosed",
                   "dx", "診断", "病名", "傷病名", "疾病"),
    "date_of_birth": ("date of birth", "birth date", "birthdate", "dob", "d.o.b",
                      "born", "birthday", "生年月日", "誕生日", "生まれ"),
}


def context_pattern(word: str) -> bytes:
    """A byte pattern for a context word: whole word when ASCII, else the literal."""
    data = word.encode()
    escaped = re.escape(data)
    if word.isascii():
        lead = rb"\b" if word[0].isalnum() else b""
        tail = rb"\b" if word[-1].isalnum() else b""
        return lead + escaped + tail
    return escaped
