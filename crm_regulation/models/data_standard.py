"""The data standard as plain functions, without the ORM (like ``business_clock.py``): one
format for phones, company names split from their legal form, the keys duplicates are
matched on. The models call them on entry (``crm_lead_data_standard.py``,
``res_partner_data_standard.py``), the normalization of existing data and the tests' table
of formats."""

import re
from typing import NamedTuple

from odoo.tools import LazyTranslate

try:
    import phonenumbers
except ImportError:  # Odoo's phone_validation degrades the same way
    phonenumbers = None

# The phone standard of a company (``res.company.crm_phone_standard``) or of a team.
PHONE_OFF, PHONE_FLAG, PHONE_REQUIRED = "off", "flag", "required"
PHONE_STANDARDS = [
    (PHONE_OFF, "Off: phones are kept as typed"),
    (PHONE_FLAG, "Flag: phones are formatted, invalid ones kept and flagged"),
    (PHONE_REQUIRED, "Required: phones are formatted, invalid ones refused"),
]
# The display format of the phone field (``res.company.crm_phone_format``).
PHONE_FORMATS = [
    ("regulation", "+7 (900) 123-45-67 for Russian numbers, international for others"),
    ("international", "International: +7 900 123-45-67"),
    ("e164", "E.164: +79001234567"),
]

# letters are refused, except the words that introduce an extension
EXTENSION = re.compile(
    r"\s*(?:,|;)?\s*(?:ext\.?|extension|x|доб\.?|добавочный|вн\.?|#)\s*(\d{1,7})\s*$",
    re.IGNORECASE,
)
LETTERS = re.compile(r"[^\W\d_]")

_lt = LazyTranslate(__name__)
# why a number is invalid (``env._(PHONE_ERRORS[code])``: in the reader's language)
PHONE_ERRORS = {
    "letters": _lt("it contains letters"),
    "short": _lt("it has too few digits"),
    "long": _lt("it has too many digits"),
    "length": _lt("it has a wrong number of digits for its country"),
    "no_country": _lt("it has no country code (start it with + and the code)"),
    "not_a_number": _lt("it is not a phone number"),
    "no_such_number": _lt("no such number exists (check the country and area codes)"),
    "foreign": _lt(
        "it is not a number of the country of the lead or contact (a foreign number starts "
        "with + and its country code)"
    ),
    "no_library": _lt("the phonenumbers library is not installed on the server"),
}


class PhoneResult(NamedTuple):
    """A phone number checked against the standard: the text to store, the E.164 form,
    and why it is invalid (a code of ``PHONE_ERRORS``; None: valid)."""

    display: str
    e164: str | None
    error: str | None


def phone_library():
    """Whether the phone standard can work (Odoo's optional ``phonenumbers`` library)."""
    return phonenumbers is not None


def format_phone(number, country_code, phone_format="regulation"):
    """Check and format ``number`` (text as typed) for ``country_code`` (ISO, the country
    a number without its + prefix belongs to): a ``PhoneResult``; an invalid number is
    kept as typed."""
    text = " ".join((number or "").split())
    if not text:
        return PhoneResult("", None, None)
    extension = ""
    match = EXTENSION.search(text)
    if match:
        extension, text = match.group(1), text[: match.start()]
    if LETTERS.search(text):
        return PhoneResult(number, None, "letters")
    digits = re.sub(r"\D", "", text)
    if len(digits) < 5:
        return PhoneResult(number, None, "short")
    if phonenumbers is None:
        return PhoneResult(number, None, "no_library")
    if text.startswith("00"):  # the international prefix of most countries
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, (country_code or "").upper() or None)
    except phonenumbers.NumberParseException:
        if not text.startswith("+") and not country_code:
            return PhoneResult(number, None, "no_country")
        return PhoneResult(number, None, "not_a_number")
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason == phonenumbers.ValidationResult.TOO_SHORT:
        return PhoneResult(number, None, "short")
    if reason == phonenumbers.ValidationResult.INVALID_LENGTH:
        return PhoneResult(number, None, "length")
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return PhoneResult(number, None, "long")
    if not phonenumbers.is_valid_number(parsed):
        return PhoneResult(number, None, "no_such_number" if text.startswith("+") else "foreign")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if phone_format == "e164":
        display = e164
    elif phone_format == "regulation" and parsed.country_code == 7:
        national = phonenumbers.national_significant_number(parsed)
        display = f"+7 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8:]}"
    else:
        display = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if extension:
        display = f"{display} ext. {extension}"
    return PhoneResult(display, e164, None)


# ------------------------------------------------------------
# Company names and their legal form
# ------------------------------------------------------------

QUOTES = "«»„“”‟\"'‘’‚‛`"
QUOTE_CHARS = re.compile(f"[{re.escape(QUOTES)}]")
SPACES = re.compile(r"\s+")


class CompanyName(NamedTuple):
    name: str  # the name without its legal form and quotes
    legal_form: str  # the legal form split off ("" when none)
    key: str  # what duplicates are matched on ("" when no name)


def company_key(name):
    """The matching key of a name already without its legal form: quotes and punctuation
    at the ends dropped, case and ё folded, spaces collapsed."""
    text = QUOTE_CHARS.sub(" ", name or "")
    text = SPACES.sub(" ", text).strip(" ,.;-").casefold().replace("ё", "е")
    return text


def split_company_name(name, legal_forms):
    """Split a company name into (name, legal form, key): the legal form is split off only
    at the start («ООО «Ромашка»») or the end ("Ромашка, ООО"), never inside a name
    ("Автосервис ИП Петров"). ``legal_forms``: the forms as typed, longest first."""
    text = SPACES.sub(" ", name or "").strip()
    if not text:
        return CompanyName("", "", "")
    bare = text.strip(QUOTES + " ")
    folded = bare.casefold()
    found = ""
    for form in legal_forms:
        lowered = form.casefold()
        if folded.startswith(lowered):
            after = bare[len(form) : len(form) + 1]
            if after and (after in QUOTES or after in " ,"):
                found, bare = form, bare[len(form) :]
                break
        if folded.endswith(lowered) and len(folded) > len(lowered):
            before = bare[-len(form) - 1]
            if before in QUOTES or before in " ,":
                found, bare = form, bare[: -len(form)]
                break
    clean = SPACES.sub(" ", QUOTE_CHARS.sub(" ", bare)).strip(" ,;")
    if not clean:  # the name is only a legal form: nothing to split
        clean, found = SPACES.sub(" ", QUOTE_CHARS.sub(" ", text)).strip(" ,;"), ""
    return CompanyName(clean, found, company_key(clean))
