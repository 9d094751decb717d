"""Money: integer minor units with an ISO 4217 currency. Pure; no floats anywhere.

Decisions:
- An amount is an `int` of the currency's minor unit (cents for EUR, yen for JPY, fils for KWD),
  and always travels with its currency code. Amounts of different currencies never mix
  (`CurrencyMismatch`); an invoice has one currency, the customer's.
- The exponent (digits after the decimal point) is ISO 4217's (`EXPONENTS`). A code not in the
  table is refused rather than guessed.
- Division rounds by a named rule (`divide`): `HALF_UP` (half away from zero: 0.5 -> 1,
  -0.5 -> -1), the rule of invoice lines and taxes here, or `HALF_EVEN` (banker's), offered for
  tenants whose accounting asks for it. Both work on integers (numerator, denominator) only.
- Text forms (`format_amount`, `parse_amount`) are exact: "12.50" <-> 1250 for EUR, "1000" <-> 1000
  for JPY, "1.250" <-> 1250 for KWD; more decimals than the currency has is an error, not a rounding.
- `allocate` splits an amount over weights by largest remainder so the parts always sum to it
  (used to spread a discount or a per-day rounding without losing a unit).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# ISO 4217 minor-unit exponents of the active codes (the common ones; 2 is the norm).
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = ("AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
        "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
        "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD "
        "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP "
        "PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
        "TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL")
EXPONENTS: dict[str, int] = {
    **{c: 0 for c in _ZERO.split()}, **{c: 2 for c in _TWO.split()},
    **{c: 3 for c in _THREE.split()}, **{c: 4 for c in _FOUR.split()},
}

Rounding = Literal["half_up", "half_even"]
HALF_UP: Rounding = "half_up"
HALF_EVEN: Rounding = "half_even"


class UnknownCurrency(ValueError):
    pass


class CurrencyMismatch(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code") from None


def divide(numerator: int, denominator: int, rounding: Rounding = HALF_UP) -> int:
    """`numerator / denominator` rounded to an integer by `rounding`, in integers only."""
    if denominator == 0:
        raise ZeroDivisionError("denominator is 0")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and (rounding == HALF_UP or quotient % 2 == 1)):
        quotient += 1
    return sign * quotient


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` over non-negative `weights` in proportion, by largest remainder (ties: the
    earlier weight), so the parts sum to `amount` exactly. All-zero weights: split evenly."""
    if not weights:
        if amount:
            raise ValueError("nothing to allocate over")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    total = sum(weights)
    if total == 0:
        weights, total = [1] * len(weights), len(weights)
    sign, magnitude = (-1 if amount < 0 else 1), abs(amount)
    parts = [magnitude * w // total for w in weights]
    remainders = [(magnitude * w % total, -i) for i, w in enumerate(weights)]
    for _rem, neg_i in sorted(remainders, reverse=True)[: magnitude - sum(parts)]:
        parts[-neg_i] += 1
    return [sign * p for p in parts]


def format_amount(amount: int, currency: str) -> str:
    """The amount as a plain decimal string in major units: 1250 EUR -> "12.50", -5 EUR -> "-0.05"."""
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10 ** digits)
    return f"{sign}{major}.{minor:0{digits}d}" if digits else f"{sign}{major}"


_DECIMAL = re.compile(r"^(-?)(\d+)(?:\.(\d+))?$")


def parse_amount(text: str, currency: str) -> int:
    """The exact minor units of a decimal string ("12.5" EUR -> 1250); too many decimals is an error."""
    found = _DECIMAL.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a decimal amount")
    sign, major, fraction = found.group(1), found.group(2), found.group(3) or ""
    digits = exponent(currency)
    if len(fraction.rstrip("0")) > digits:
        raise ValueError(f"{text!r} has more decimals than {currency} has ({digits})")
    fraction = (fraction + "0" * digits)[:digits]
    value = int(major) * 10 ** digits + (int(fraction) if fraction else 0)
    return -value if sign else value


def format_money(amount: int, currency: str) -> str:
    """For people: thousands separated, the code after ("1,234.50 EUR")."""
    plain = format_amount(abs(amount), currency)
    major, dot, minor = plain.partition(".")
    return f"{'-' if amount < 0 else ''}{int(major):,}{dot}{minor} {currency}"


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("money is an integer of minor units")
        exponent(self.currency)

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def _same(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not add up")

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


def hours_text(minutes: int, decimals: int = 2) -> str:
    """Minutes as decimal hours for display and exports, half up at `decimals` ("90" -> "1.50")."""
    scaled = divide(minutes * 10 ** decimals, 60)
    major, minor = divmod(abs(scaled), 10 ** decimals)
    return f"{'-' if scaled < 0 else ''}{major}.{minor:0{decimals}d}" if decimals else str(scaled)
