"""A labelled corpus of transactional mail for the DLP benchmark and tests.

`corpus(count, seed)` makes English and Japanese application mail (receipts,
payroll, onboarding, lab results, NHS letters, invoices, customer exports,
and the hard negatives: order confirmations, shipping notices with tracking
numbers, password resets with UUIDs, alerts with timestamps, phone numbers),
about half with attachments (CSV, PDF, DOCX, XLSX, PPTX, ZIP).  Every
`Sample` carries its raw RFC 5322 bytes and the set of (detector, canonical
value) that a perfect detector would report.  The document builders
(`pdf_bytes`, `docx_bytes`, `xlsx_bytes`, `pptx_bytes`, `zip_bytes`,
`zip_bomb`) are shared with the tests.

All numbers are synthetic: valid checksums are computed here, never copied
from real people.  Deterministic for a given seed.
"""

from __future__ import annotations

import datetime
import io
import random
import zipfile
import zlib
from dataclasses import dataclass, field
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.header import Header
from email.utils import formataddr
from xml.sax.saxutils import escape

from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.gb import nhs as std_nhs
from stdnum.jp import in_ as std_my_number
from stdnum.us import rtn as std_rtn

BULK_THRESHOLD = 10


# -- document builders ------------------------------------------------------------
def pdf_bytes(lines: list[str], compress: bool = True) -> bytes:
    """A one-page PDF (Helvetica) showing `lines` (Latin-1 text)."""
    def literal(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    ops = ["BT", "/F1 11 Tf", "72 740 Td", "14 TL"]
    for line in lines:
        ops.append(f"({literal(line)}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1", "replace")
    extra = ""
    if compress:
        stream = zlib.compress(stream)
        extra = " /Filter /FlateDecode"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)}{extra} >>\nstream\n".encode() + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
              .encode())
    return out.getvalue()


def _ooxml(parts: dict[str, str], content_type: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                         'openxmlformats.org/package/2006/content-types"><Override PartName="/'
                         f'main" ContentType="{content_type}"/></Types>')
        for name, xml in parts.items():
            archive.writestr(name, xml)
    return buffer.getvalue()


def docx_bytes(paragraphs: list[str], split_runs: bool = True) -> bytes:
    """A DOCX; each paragraph's text is split over two runs, as Word often does."""
    body = []
    for text in paragraphs:
        cut = len(text) // 2 if split_runs else len(text)
        runs = "".join(f'<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">{escape(piece)}'
                       "</w:t></w:r>" for piece in (text[:cut], text[cut:]) if piece)
        body.append(f"<w:p>{runs}</w:p>")
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
                '"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
                + "".join(body) + "</w:body></w:document>")
    return _ooxml({"word/document.xml": document},
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    """An XLSX whose text cells are shared strings and numeric-looking cells numbers."""
    shared: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if value.isdigit() and len(value) < 12:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                shared.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
    return _ooxml({
        "xl/workbook.xml": f'<workbook {ns}><sheets><sheet name="Sheet1" sheetId="1"/></sheets>'
                           "</workbook>",
        "xl/sharedStrings.xml": f'<sst {ns} count="{len(shared)}">{strings}</sst>',
        "xl/worksheets/sheet1.xml": f"<worksheet {ns}><sheetData>{''.join(sheet_rows)}"
                                    "</sheetData></worksheet>",
    }, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")


def pptx_bytes(slides: list[list[str]]) -> bytes:
    parts = {}
    for number, paragraphs in enumerate(slides, 1):
        body = "".join(f"<a:p><a:r><a:t>{escape(t)}</a:t></a:r></a:p>" for t in paragraphs)
        parts[f"ppt/slides/slide{number}.xml"] = (
            '<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p='
            '"http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree>'
            f"<p:sp><p:txBody>{body}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>")
    return _ooxml(parts, "application/vnd.openxmlformats-officedocument.presentationml."
                         "presentation.main+xml")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(expanded_bytes: int, chunk: int = 1 << 20) -> bytes:
    """A ZIP with one member of `expanded_bytes` zeros (about 1000:1)."""
    buffer = io.BytesIO()
    zeros = b"\0" * chunk
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            left = expanded_bytes
            while left > 0:
                member.write(zeros[:min(chunk, left)])
                left -= chunk
    return buffer.getvalue()


# -- synthetic identifiers -------------------------------------------------------
def card_number(rng: random.Random, prefix: str | None = None, length: int = 16) -> str:
    prefix = prefix or rng.choice(["4", "51", "52", "55", "2221", "3528", "6011"])
    if prefix in ("34", "37"):
        length = 15
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def not_a_card(rng: random.Random, length: int = 16) -> str:
    """A card-shaped number whose Luhn digit is wrong (an order number)."""
    good = card_number(rng, "4", length)
    return good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)


def ssn(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def routing_number(rng: random.Random) -> str:
    body = f"{rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 21, 26, 31, 61, 67]):02d}" + \
        "".join(rng.choice("0123456789") for _ in range(6))
    return body + std_rtn.calc_check_digit(body)


def iban_number(rng: random.Random) -> str:
    country = rng.choice(["DE", "GB", "NL"])
    if country == "DE":
        bban = "".join(rng.choice("0123456789") for _ in range(18))
    elif country == "GB":
        bban = rng.choice(["WEST", "NWBK", "BARC"]) + "".join(
            rng.choice("0123456789") for _ in range(14))
    else:
        bban = rng.choice(["ABNA", "INGB", "RABO"]) + "".join(
            rng.choice("0123456789") for _ in range(10))
    number = country + "00" + bban
    return country + std_iban.calc_check_digits(number) + bban


def my_number(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(11))
    return body + std_my_number.calc_check_digit(body)


def nhs_number(rng: random.Random) -> str:
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(9))
        for check in "0123456789":
            if std_nhs.is_valid(body + check):
                return body + check


def npi_number(rng: random.Random) -> str:
    body = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(8))
    return body + luhn.calc_check_digit("80840" + body)


def nino(rng: random.Random) -> str:
    first = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        first = "A"
    digits = "".join(rng.choice("0123456789") for _ in range(6))
    return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"


ICD10 = ["E11.9", "I10", "J45.909", "F32.1", "M54.5", "K21.9", "N39.0", "C50.911", "E78.5",
         "G43.909", "R51", "Z00.00", "O80", "S82.101A"]


def birth_date(rng: random.Random) -> datetime.date:
    return datetime.date(rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(1, 28))


def phone(rng: random.Random) -> str:
    return rng.choice([f"+1 (212) 555-{rng.randint(1000, 9999)}",
                       f"212-555-{rng.randint(1000, 9999)}",
                       f"020 7946 {rng.randint(1000, 9999)}",
                       f"03-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                       f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"])


def tracking(rng: random.Random) -> str:
    return rng.choice([
        "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16)),
        "".join(rng.choice("0123456789") for _ in range(22)),          # USPS
        "".join(rng.choice("0123456789") for _ in range(4)) + "-" +
        "".join(rng.choice("0123456789") for _ in range(4)) + "-" +
        "".join(rng.choice("0123456789") for _ in range(4)),          # Yamato
    ])


def uuid(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def timestamp(rng: random.Random) -> str:
    moment = datetime.datetime(2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                               rng.randint(0, 59), rng.randint(0, 59))
    return rng.choice([moment.isoformat() + "Z", str(int(moment.timestamp() * 1000)),
                       moment.strftime("%Y/%m/%d %H:%M:%S")])


def spaced(rng: random.Random, digits: str, groups: tuple[int, ...] = (4, 4, 4, 4)) -> str:
    style = rng.choice(["", " ", "-"])
    if not style:
        return digits
    out, pos = [], 0
    for size in groups:
        if pos >= len(digits):
            break
        out.append(digits[pos:pos + size])
        pos += size
    if pos < len(digits):
        out.append(digits[pos:])
    return style.join(out)


def fullwidth(text: str) -> str:
    """Full-width digits, and the JIS minus sign for "-" (what Japanese forms use)."""
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"} | {ord("-"): 0x2212})


# -- messages ------------------------------------------------------------------------
@dataclass
class Sample:
    name: str
    language: str
    content: bytes
    labels: set[tuple[str, str]] = field(default_factory=set)
    attachments: tuple[str, ...] = ()


class _Draft:
    def __init__(self, rng: random.Random, language: str):
        self.rng = rng
        self.language = language
        self.lines: list[str] = []
        self.labels: set[tuple[str, str]] = set()
        self.attachments: list[tuple[str, str, bytes]] = []   # (filename, mime type, bytes)

    def label(self, kind: str, value: str) -> None:
        self.labels.add((kind, value))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _en_receipt(d: _Draft) -> str:
    rng = d.rng
    card = card_number(rng)
    order = not_a_card(rng)
    d.label("credit_card", card)
    d.lines += [f"Thank you for your order #{order}.",
                f"We charged {rng.randint(5, 900)}.{rng.randint(10, 99)} USD to card "
                f"{spaced(rng, card)} on {timestamp(rng)}.",
                f"Questions? Call {phone(rng)}.",
                "Your previous card ending **** **** **** " + card_number(rng)[-4:] + " was removed."]
    return "Payment receipt"


def _en_payroll(d: _Draft) -> str:
    rng = d.rng
    rtn, account = routing_number(rng), "".join(rng.choice("0123456789") for _ in range(10))
    d.label("us_bank_routing", rtn)
    number = ssn(rng)
    d.label("us_ssn", _digits(number))
    d.lines += ["Your direct deposit details were updated.",
                f"Routing number (ABA): {rtn}", f"Account: {account}",
                f"Employee SSN: {number}", f"Effective: {timestamp(rng)}"]
    return "Direct deposit change"


def _en_onboarding(d: _Draft) -> str:
    rng = d.rng
    born = birth_date(rng)
    number = ssn(rng)
    d.label("us_ssn", _digits(number))
    d.label("date_of_birth", born.isoformat())
    d.lines += ["Welcome aboard! Please confirm the details HR has on file:",
                f"Date of birth: {born.strftime(rng.choice(['%m/%d/%Y', '%B %d, %Y', '%Y-%m-%d']))}",
                f"Social Security Number: {number}",
                f"Start date: {datetime.date(2026, rng.randint(1, 12), rng.randint(1, 28))}"]
    return "Onboarding checklist"


def _en_lab(d: _Draft) -> str:
    rng = d.rng
    born, npi, code = birth_date(rng), npi_number(rng), rng.choice(ICD10)
    d.label("date_of_birth", born.isoformat())
    d.label("us_npi", npi)
    d.label("icd10_code", code)
    d.lines += ["Your lab results are ready in the patient portal.",
                f"Patient DOB: {born.strftime('%m/%d/%Y')}",
                f"Ordering provider NPI: {npi}",
                f"Diagnosis (ICD-10): {code}",
                f"Specimen id {uuid(rng)}, collected {timestamp(rng)}."]
    return "Lab results available"


def _en_nhs(d: _Draft) -> str:
    rng = d.rng
    nhs, ni = nhs_number(rng), nino(rng)
    d.label("nhs_number", nhs)
    d.label("uk_nino", ni.replace(" ", ""))
    d.lines += ["Your appointment has been booked.",
                f"NHS number: {nhs[:3]} {nhs[3:6]} {nhs[6:]}",
                f"National Insurance number: {ni}",
                f"Clinic phone: {phone(rng)}"]
    return "Appointment confirmation"


def _en_invoice(d: _Draft) -> str:
    rng = d.rng
    account = iban_number(rng)
    d.label("iban", account)
    grouped = " ".join(account[i:i + 4] for i in range(0, len(account), 4))
    d.lines += [f"Invoice INV-{rng.randint(10000, 99999)} is due on 2026-{rng.randint(1, 12):02d}-15.",
                f"Please pay to IBAN {grouped} EUR",
                "Reference: " + not_a_card(rng, 14)]
    return "Invoice"


def _en_export(d: _Draft) -> str:
    rng = d.rng
    rows = ["email,plan,joined"]
    for _ in range(rng.randint(12, 40)):
        address = f"user{rng.randint(1, 10 ** 6)}@{rng.choice(['example.com', 'mail.example.org'])}"
        d.label("email_address_bulk", address)
        rows.append(f"{address},{rng.choice(['free', 'pro'])},{timestamp(rng)}")
    d.attachments.append(("customers.csv", "text/csv", "\n".join(rows).encode()))
    d.lines += ["The customer export you requested is attached."]
    return "Customer export"


def _en_order(d: _Draft) -> str:
    rng = d.rng
    d.lines += [f"Order {not_a_card(rng)} has shipped.",
                f"Tracking: {tracking(rng)}", f"Shipped at {timestamp(rng)}",
                f"Request id {uuid(rng)}", f"Support: {phone(rng)}",
                f"Ref {rng.randint(10 ** 8, 10 ** 9 - 1)} / seat B12 / gate A10"]
    return "Your order has shipped"


def _en_reset(d: _Draft) -> str:
    rng = d.rng
    d.lines += ["Someone asked to reset your password.",
                f"https://app.example.com/reset?token={uuid(rng)}",
                f"This link expires at {timestamp(rng)}.",
                f"Code: {rng.randint(100000, 999999)}",
                f"Account created 2019-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}."]
    return "Password reset"


def _ja_payroll(d: _Draft) -> str:
    rng = d.rng
    number = my_number(rng)
    d.label("jp_my_number", number)
    shown = spaced(rng, number, (4, 4, 4))
    if rng.random() < 0.5:
        shown = fullwidth(shown)
    d.lines += ["給与明細をお送りします。", f"従業員番号：{rng.randint(10000, 99999)}",
                f"個人番号（マイナンバー）：{shown}",
                f"お問い合わせ：{phone(rng)}"]
    return "給与明細のお知らせ"


def _ja_health(d: _Draft) -> str:
    rng = d.rng
    born = birth_date(rng)
    code = rng.choice(ICD10)
    d.label("date_of_birth", born.isoformat())
    d.label("icd10_code", code)
    era, offset = (("昭和", 1925) if born.year < 1989 else ("平成", 1988))
    shown = rng.choice([f"{born.year}年{born.month}月{born.day}日",
                        f"{era}{born.year - offset}年{born.month}月{born.day}日"])
    d.lines += ["健康診断の結果をお知らせします。", f"生年月日：{shown}",
                f"傷病名コード（ICD-10）：{code}", f"受診日：{timestamp(rng)}"]
    return "健康診断結果"


def _ja_card(d: _Draft) -> str:
    rng = d.rng
    card = card_number(rng, rng.choice(["3528", "4", "53"]))
    d.label("credit_card", card)
    shown = spaced(rng, card)
    if rng.random() < 0.5:
        shown = fullwidth(shown)
    d.lines += ["ご利用ありがとうございます。", f"カード番号：{shown}",
                f"ご利用日時：{timestamp(rng)}", f"注文番号：{not_a_card(rng)}"]
    return "カードご利用のお知らせ"


def _ja_order(d: _Draft) -> str:
    rng = d.rng
    d.lines += ["ご注文ありがとうございます。", f"注文番号：{rng.randint(10 ** 11, 10 ** 12 - 1)}",
                f"お届け予定日：2026年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
                f"追跡番号：{tracking(rng)}", f"電話：{phone(rng)}",
                f"〒{rng.randint(100, 999)}-{rng.randint(1000, 9999)} 東京都千代田区"]
    return "ご注文の確認"


def _ja_member(d: _Draft) -> str:
    rng = d.rng
    born = birth_date(rng)
    d.label("date_of_birth", born.isoformat())
    d.lines += ["会員登録が完了しました。", f"会員ID：{uuid(rng)}",
                f"誕生日：{born.year}/{born.month:02d}/{born.day:02d}",
                f"登録日時：{timestamp(rng)}"]
    return "会員登録完了"


def _en_hr_table(d: _Draft) -> str:
    """A spreadsheet export: the context ("DOB", "SSN") is only in the header row."""
    rng = d.rng
    rows = [["employee", "dob", "ssn", "routing"]]
    for _ in range(rng.randint(4, 12)):
        born, number, rtn = birth_date(rng), _digits(ssn(rng)), routing_number(rng)
        d.label("date_of_birth", born.isoformat())
        d.label("us_ssn", number)
        d.label("us_bank_routing", rtn)
        rows.append([f"E{rng.randint(1000, 9999)}", born.strftime("%m/%d/%Y"), number, rtn])
    if rng.random() < 0.5:
        d.attachments.append(("payroll.csv", "text/csv",
                              "\n".join(",".join(r) for r in rows).encode()))
    else:
        d.attachments.append(("payroll.xlsx", "application/vnd.openxmlformats-officedocument."
                              "spreadsheetml.sheet", xlsx_bytes(rows)))
    d.lines += ["The payroll file for this period is attached."]
    return "Payroll export"


def _en_verified(d: _Draft) -> str:
    """A hard negative: a context word with an unrelated number nearby."""
    rng = d.rng
    d.lines += ["Identity check complete: SSN verified by our provider.",
                f"Case reference {rng.randint(10 ** 8, 10 ** 9 - 1)}",
                f"NHS trust reference {rng.randint(10 ** 9, 10 ** 10 - 1)}",
                f"Visit logged {timestamp(rng)}"]
    return "Verification complete"


def _ja_staff_table(d: _Draft) -> str:
    rng = d.rng
    rows = [["氏名", "生年月日", "個人番号"]]
    for _ in range(rng.randint(4, 12)):
        born, number = birth_date(rng), my_number(rng)
        d.label("date_of_birth", born.isoformat())
        d.label("jp_my_number", number)
        rows.append([rng.choice(["山田太郎", "佐藤花子", "鈴木一郎", "田中美咲"]),
                     f"{born.year}/{born.month}/{born.day}", number])
    d.attachments.append(("staff.csv", "text/csv",
                          "\n".join(",".join(r) for r in rows).encode("cp932")))
    d.lines += ["年末調整用の従業員一覧を添付します。"]
    return "従業員一覧"


def _ja_verified(d: _Draft) -> str:
    rng = d.rng
    d.lines += ["本人確認が完了しました（マイナンバーカード）。",
                f"受付番号：{rng.randint(10 ** 11, 10 ** 12 - 1)}",
                f"受付日時：{timestamp(rng)}"]
    return "本人確認完了"


ENGLISH = [_en_receipt, _en_payroll, _en_onboarding, _en_lab, _en_nhs, _en_invoice, _en_export,
           _en_hr_table, _en_order, _en_order, _en_reset, _en_reset, _en_verified]
JAPANESE = [_ja_payroll, _ja_health, _ja_card, _ja_staff_table, _ja_order, _ja_order, _ja_member,
            _ja_verified]

_FILLER_EN = ("This message was sent by an automated system. Please do not reply. "
              "You are receiving this email because you have an account with Example Corp. "
              "Manage your notification preferences in the settings page. ")
_FILLER_JA = ("このメールは送信専用アドレスから配信されています。ご返信いただいてもお答えできませんので"
              "ご了承ください。配信停止は会員ページの設定から行えます。")


def _attach(d: _Draft, kind: str) -> None:
    text = list(d.lines)
    if kind == "csv":
        d.attachments.append(("details.csv", "text/csv", "\n".join(
            ",".join(line.split("：" if "：" in line else ": ", 1)) for line in text).encode(
                "utf-8" if d.language == "en" else "cp932")))
    elif kind == "pdf":
        d.attachments.append(("statement.pdf", "application/pdf", pdf_bytes(text)))
    elif kind == "docx":
        d.attachments.append(("letter.docx", "application/vnd.openxmlformats-officedocument."
                              "wordprocessingml.document", docx_bytes(text)))
    elif kind == "xlsx":
        rows = [line.split("：" if "：" in line else ": ", 1) for line in text]
        d.attachments.append(("report.xlsx", "application/vnd.openxmlformats-officedocument."
                              "spreadsheetml.sheet", xlsx_bytes(rows)))
    elif kind == "pptx":
        d.attachments.append(("summary.pptx", "application/vnd.openxmlformats-officedocument."
                              "presentationml.presentation", pptx_bytes([text])))
    elif kind == "zip":
        d.attachments.append(("records.zip", "application/zip", zip_bytes(
            {"records/details.txt": "\n".join(text).encode("utf-8")})))


def make_sample(rng: random.Random, index: int, language: str) -> Sample:
    d = _Draft(rng, language)
    template = rng.choice(ENGLISH if language == "en" else JAPANESE)
    subject = template(d)
    filler = _FILLER_EN if language == "en" else _FILLER_JA
    move_to_attachment = rng.random() < 0.5
    kind = None
    if move_to_attachment:
        kinds = ["csv", "pdf", "docx", "xlsx", "pptx", "zip"] if language == "en" else \
            ["csv", "docx", "xlsx", "pptx", "zip"]       # the simple PDF writer is Latin-1 only
        kind = rng.choice(kinds)
        _attach(d, kind)
        greeting = ("Please find the details attached." if language == "en"
                    else "詳細は添付ファイルをご確認ください。")
        body_lines = [greeting]
    else:
        body_lines = list(d.lines)
    body = "\n".join(body_lines + ["", filler * rng.randint(1, 6)])
    charset = "utf-8" if language == "en" else rng.choice(["utf-8", "iso-2022-jp", "shift_jis"])
    if rng.random() < 0.5:
        html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in body.split("\n")) + \
            "</body></html>"
        alternative = MIMEMultipart("alternative")
        alternative.attach(MIMEText(body, "plain", charset))
        alternative.attach(MIMEText(html, "html", charset))
        root = alternative
    else:
        root = MIMEText(body, "plain", charset)
    if d.attachments:
        mixed = MIMEMultipart("mixed")
        mixed.attach(root)
        for filename, mime_type, data in d.attachments:
            maintype, subtype = mime_type.split("/", 1)
            part = MIMEApplication(data, _subtype=subtype)
            part.replace_header("Content-Type", mime_type)
            part.add_header("Content-Disposition", "attachment", filename=filename)
            mixed.attach(part)
        root = mixed
    root["From"] = formataddr(("Example Corp", "notify@example.com"))
    root["To"] = f"customer{index}@example.net"
    root["Subject"] = Header(subject, "utf-8" if language == "en" else "iso-2022-jp").encode()
    root["Message-ID"] = f"<{index}.{uuid(rng)}@example.com>"
    return Sample(f"{language}-{index:05d}-{template.__name__.lstrip('_')}", language,
                  root.as_bytes(), d.labels,
                  tuple(name for name, _, _ in d.attachments))


def corpus(count: int = 400, seed: int = 4) -> list[Sample]:
    """`count` labelled messages, half English and half Japanese."""
    rng = random.Random(seed)
    return [make_sample(rng, index, "en" if index % 2 == 0 else "ja") for index in range(count)]


if __name__ == "__main__":  # write the corpus as .eml files: python -m bench.dlp_corpus DIR
    import json
    import sys
    from pathlib import Path
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "dlp-corpus")
    target.mkdir(parents=True, exist_ok=True)
    labels = {}
    for sample in corpus(int(sys.argv[2]) if len(sys.argv) > 2 else 400):
        (target / f"{sample.name}.eml").write_bytes(sample.content)
        labels[sample.name] = sorted(sample.labels)
    (target / "labels.json").write_text(json.dumps(labels, indent=1, ensure_ascii=False))
    print(f"{len(labels)} messages in {target}")
