#!/usr/bin/env python3
"""An independent Execution Context Token (ECT) verifier speaking the conformance protocol.

Profiles ``draft-00`` and ``draft-01`` as read by the project's SPEC.md (§10 for ``draft-01``),
chosen per case by ``settings.profile`` (a case without a known profile is answered ``skip``).
Written from SPEC.md and the reference's documented decisions only (src/_documentation/): it
shares no code with the Rust crate ``wimse-ect``. Dependencies: the Python standard library and
``cryptography`` (ECDSA P-256 verification).

Protocol: one JSON case per line on stdin, one JSON answer per line on stdout (flushed)::

    {"id": ..., "result": "valid" | "invalid" | "skip", "code": "..."}

A valid ``http`` case also gives ``"tokens": [...]``, the split tokens in field order.

Every check is a small function named after its SPEC.md rule id and raises :class:`EctError`
with SPEC.md's error code. Checks run in SPEC.md's "Order of checks".
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

#: Order n of the P-256 group (ECT-SIG-1).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: Field prime p of P-256 (ECT-KEY-3: coordinates are field elements).
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
#: Largest NumericDate (ECT-TIME-5).
MAX_NUMERIC_DATE = 2**53 - 1
#: The verifier's algorithm allowlist (ECT-HDR-2, SPEC.md default).
ALLOWED_ALGS = ("ES256",)
#: ECT-CLM-12 limits.
MAX_EXT_BYTES = 4096
MAX_EXT_DEPTH = 5
#: serde_json's nesting limit: the 128th nested array/object is an error (ECT-JWS-4).
JSON_DEPTH_LIMIT = 128
#: ECT-CLM-13 values.
POL_DECISIONS = ("approved", "rejected", "pending_human_review")
#: ECT-DAG-6: decisions that forbid dependent tasks.
BLOCKING_DECISIONS = ("rejected", "pending_human_review")
#: The widest limits, used to re-parse tokens read back from a ledger file.
WIDEST_MAX_PAR = 10_000
WIDEST_MAX_TOKEN_BYTES = 1_048_576
#: Ledger entry hash domain (src/_documentation/crash_recovery.md, "Ledger entries").
LEDGER_DOMAIN = b"wimse-ect-ledger-v1\n"

_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_HEX = frozenset("0123456789abcdefABCDEF")
#: ASCII whitespace as Rust's ``u8::is_ascii_whitespace`` plus VT (ECT-JWS-2).
_TOKEN_WHITESPACE = frozenset(" \t\n\x0b\x0c\r")
#: ECT-HTTP-3 element alphabet: base64url plus ``.``.
_HTTP_ELEMENT_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


class EctError(Exception):
    """A rejection: SPEC.md's error ``code`` and the ``rule`` id that produced it."""

    def __init__(self, code: str, rule: str, message: str = "") -> None:
        super().__init__(f"{code} ({rule}): {message}" if message else f"{code} ({rule})")
        self.code = code
        self.rule = rule


# --------------------------------------------------------------------------------------------
# Profiles (SPEC.md §10)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What differs between the draft revisions: every other rule is shared."""

    #: ``draft-00`` or ``draft-01``, as ``settings.profile`` spells it.
    name: str
    #: Accepted ``typ`` subtypes (lower case), with or without ``application/``.
    typs: tuple[str, ...]
    #: The rule that checks ``typ``.
    typ_rule: str
    #: The claim naming the parent tasks (``par``; ``pred`` in draft-01, ECT-P01-2).
    par: str
    #: The extension object (``ext``; ``ect_ext`` in draft-01, ECT-P01-3).
    ext: str
    #: Whether ``pol``/``pol_decision`` are members of the extension object (ECT-P01-4)
    #: rather than top-level claims (ECT-CLM-13).
    policy_in_ext: bool
    #: Whether a parent held only under another workflow is refused (ECT-P01-5).
    workflow_consistency: bool

    @property
    def required_claims(self) -> tuple[str, ...]:
        """ECT-CLM-1's claims, in the order they are looked for."""
        return ("iss", "aud", "iat", "exp", "jti", "exec_act", self.par)


DRAFT_00 = Profile(
    name="draft-00",
    typs=("wimse-exec+jwt",),
    typ_rule="ECT-HDR-1",
    par="par",
    ext="ext",
    policy_in_ext=False,
    workflow_consistency=False,
)
DRAFT_01 = Profile(
    name="draft-01",
    typs=("exec+jwt", "wimse-exec+jwt"),
    typ_rule="ECT-P01-1",
    par="pred",
    ext="ect_ext",
    policy_in_ext=True,
    workflow_consistency=True,
)
#: The profiles by name.
PROFILES = {p.name: p for p in (DRAFT_00, DRAFT_01)}


# --------------------------------------------------------------------------------------------
# Strict base64url (ECT-JWS-3)
# --------------------------------------------------------------------------------------------


def b64url_decode_strict(text: str) -> Optional[bytes]:
    """Decodes unpadded base64url strictly, or returns ``None``.

    Refuses ``=``, ``+``, ``/``, any character outside ``[A-Za-z0-9_-]``, a length of 1 mod 4,
    and non-canonical trailing bits (SPEC.md decision, flag ``NonCanonicalBase64``).
    """
    if len(text) % 4 == 1 or any(c not in _B64URL_ALPHABET for c in text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Canonical: re-encoding gives back exactly the input (unused trailing bits are zero).
    if b64url_encode(data) != text:
        return None
    return data


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


# --------------------------------------------------------------------------------------------
# Strict JSON (ECT-JWS-4, ECT-JWS-5), with serde_json's grammar and limits
# --------------------------------------------------------------------------------------------


class JsonSyntaxError(Exception):
    """Not acceptable JSON (ECT-JWS-4)."""


class JsonDuplicateMember(Exception):
    """A member name appears twice in one object (ECT-JWS-5)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"duplicate member {name!r}")
        self.name = name


_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]+')
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_JSON_WS = " \t\n\r"


class StrictJsonParser:
    """A streaming recursive-descent JSON parser that follows serde_json's behaviour.

    * Errors are raised in text order, so a duplicate member name seen before a later syntax
      error is reported as the duplicate (as a streaming parser does).
    * Nesting: the 128th nested array/object is an error (serde_json's recursion limit).
    * Integers that fit u64 (non-negative) or i64 (negative) are ``int``; every other number
      (fraction, exponent, ``-0``, out of integer range) is ``float``; a number whose value
      overflows f64 is an error.
    * Strings: no raw control characters, only JSON escapes, no lone surrogate escapes.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.remaining_depth = JSON_DEPTH_LIMIT

    # -- helpers --------------------------------------------------------------------------

    def _peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def _skip_ws(self) -> None:
        s, i, n = self.s, self.i, len(self.s)
        while i < n and s[i] in _JSON_WS:
            i += 1
        self.i = i

    def _enter(self) -> None:
        self.remaining_depth -= 1
        if self.remaining_depth == 0:
            raise JsonSyntaxError("recursion limit exceeded")

    def _leave(self) -> None:
        self.remaining_depth += 1

    # -- grammar --------------------------------------------------------------------------

    def parse_top_object(self) -> dict[str, Any]:
        """The whole text: exactly one object, optional whitespace around it."""
        self._skip_ws()
        if self._peek() != "{":
            raise JsonSyntaxError("top-level value is not an object")
        value = self._object()
        self._skip_ws()
        if self.i != len(self.s):
            raise JsonSyntaxError("trailing characters")
        return value

    def _value(self) -> Any:
        self._skip_ws()
        c = self._peek()
        if c == "{":
            return self._object()
        if c == "[":
            return self._array()
        if c == '"':
            return self._string()
        if c == "-" or "0" <= c <= "9":
            return self._number()
        for word, value in (("null", None), ("true", True), ("false", False)):
            if c == word[0]:
                if self.s.startswith(word, self.i):
                    self.i += len(word)
                    return value
                raise JsonSyntaxError("expected ident")
        raise JsonSyntaxError("expected value")

    def _object(self) -> dict[str, Any]:
        self._enter()
        self.i += 1  # '{'
        out: dict[str, Any] = {}
        self._skip_ws()
        if self._peek() == "}":
            self.i += 1
            self._leave()
            return out
        while True:
            if self._peek() != '"':
                raise JsonSyntaxError("key must be a string")
            key = self._string()
            if key in out:  # ECT-JWS-5: reported as soon as the repeated name is read.
                raise JsonDuplicateMember(key)
            self._skip_ws()
            if self._peek() != ":":
                raise JsonSyntaxError("expected ':'")
            self.i += 1
            out[key] = self._value()
            self._skip_ws()
            c = self._peek()
            if c == ",":
                self.i += 1
                self._skip_ws()
                if self._peek() == "}":
                    raise JsonSyntaxError("trailing comma")
                continue
            if c == "}":
                self.i += 1
                self._leave()
                return out
            raise JsonSyntaxError("expected ',' or '}'")

    def _array(self) -> list[Any]:
        self._enter()
        self.i += 1  # '['
        out: list[Any] = []
        self._skip_ws()
        if self._peek() == "]":
            self.i += 1
            self._leave()
            return out
        while True:
            out.append(self._value())
            self._skip_ws()
            c = self._peek()
            if c == ",":
                self.i += 1
                self._skip_ws()
                if self._peek() == "]":
                    raise JsonSyntaxError("trailing comma")
                continue
            if c == "]":
                self.i += 1
                self._leave()
                return out
            raise JsonSyntaxError("expected ',' or ']'")

    def _hex4(self) -> int:
        digits = self.s[self.i : self.i + 4]
        if len(digits) != 4 or any(d not in _HEX for d in digits):
            raise JsonSyntaxError("invalid \\u escape")
        self.i += 4
        return int(digits, 16)

    def _string(self) -> str:
        self.i += 1  # opening quote
        s = self.s
        parts: list[str] = []
        while True:
            m = _STRING_RUN.match(s, self.i)
            if m:
                parts.append(m.group())
                self.i = m.end()
            c = self._peek()
            if c == "":
                raise JsonSyntaxError("EOF while parsing a string")
            if c == '"':
                self.i += 1
                return "".join(parts)
            if c != "\\":
                raise JsonSyntaxError("control character in string")
            self.i += 1
            e = self._peek()
            if e in _SIMPLE_ESCAPES:
                parts.append(_SIMPLE_ESCAPES[e])
                self.i += 1
            elif e == "u":
                self.i += 1
                parts.append(self._unicode_escape())
            else:
                raise JsonSyntaxError("invalid escape")

    def _unicode_escape(self) -> str:
        cp = self._hex4()
        if 0xDC00 <= cp <= 0xDFFF:
            raise JsonSyntaxError("lone trailing surrogate")
        if 0xD800 <= cp <= 0xDBFF:
            if self.s[self.i : self.i + 2] != "\\u":
                raise JsonSyntaxError("lone leading surrogate")
            self.i += 2
            low = self._hex4()
            if not 0xDC00 <= low <= 0xDFFF:
                raise JsonSyntaxError("lone leading surrogate")
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
        return chr(cp)

    def _digits(self) -> int:
        start = self.i
        s, n = self.s, len(self.s)
        while self.i < n and "0" <= s[self.i] <= "9":
            self.i += 1
        return self.i - start

    def _number(self) -> int | float:
        start = self.i
        negative = self._peek() == "-"
        if negative:
            self.i += 1
        first = self._peek()
        if not ("0" <= first <= "9"):
            raise JsonSyntaxError("invalid number")
        if first == "0":
            self.i += 1
            if "0" <= self._peek() <= "9":
                raise JsonSyntaxError("invalid number: leading zero")
        else:
            self._digits()
        is_float = False
        if self._peek() == ".":
            self.i += 1
            is_float = True
            if self._digits() == 0:
                raise JsonSyntaxError("invalid number")
        if self._peek() in ("e", "E"):
            self.i += 1
            is_float = True
            if self._peek() in ("+", "-"):
                self.i += 1
            if self._digits() == 0:
                raise JsonSyntaxError("invalid number")
        text = self.s[start : self.i]
        if not is_float:
            number = _json_integer(text, negative)
            if number is not None:
                return number
        value = float(text)
        if math.isinf(value):
            raise JsonSyntaxError("number out of range")
        return value


def _json_integer(text: str, negative: bool) -> Optional[int]:
    """The integer serde_json keeps as an integer (u64, or i64 below zero), else ``None``."""
    digits = text.lstrip("-")
    if len(digits) > 20:  # beyond u64 (and avoids Python's int-from-str digit limit)
        return None
    value = int(text)
    if negative:
        return value if -(2**63) <= value < 0 else None  # -0 is a float in serde_json
    return value if value < 2**64 else None


def parse_json_object(data: bytes) -> dict[str, Any]:
    """ECT-JWS-4/-5: ``data`` is UTF-8 JSON text of one object with unique member names.

    Raises :class:`JsonSyntaxError` or :class:`JsonDuplicateMember`.
    """
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:  # checked first, over the whole input
        raise JsonSyntaxError(f"invalid UTF-8: {e}") from None
    return StrictJsonParser(text).parse_top_object()


def parse_json_segment(data: bytes) -> dict[str, Any]:
    """:func:`parse_json_object` with SPEC.md's codes (ECT-JWS-4 ``jws.json``, ECT-JWS-5)."""
    try:
        return parse_json_object(data)
    except JsonDuplicateMember as e:
        raise EctError("jws.duplicate_member", "ECT-JWS-5", e.name) from None
    except JsonSyntaxError as e:
        raise EctError("jws.json", "ECT-JWS-4", str(e)) from None


# --------------------------------------------------------------------------------------------
# serde_json-compatible compact serialization (ECT-CLM-12 size, ledger lines)
# --------------------------------------------------------------------------------------------

_SERDE_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SERDE_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def serde_string(text: str) -> str:
    """A JSON string literal escaped as serde_json does: ``"``, ``\\``, the short escapes for
    BS/HT/LF/FF/CR, other C0 controls as ``\\u00xx`` (lower-case hex); nothing else escaped."""

    def escape(m: re.Match[str]) -> str:
        """The escape of one character."""
        c = m.group()
        return _SERDE_SHORT_ESCAPES.get(c) or f"\\u{ord(c):04x}"

    return '"' + _SERDE_NEEDS_ESCAPE.sub(escape, text) + '"'


def serde_f64(value: float) -> str:
    """A finite f64 as serde_json 1.0.154 writes it (the ``zmij`` crate): the shortest
    round-trip digits; plain notation when the decimal exponent of the first digit is in
    ``-5..=15`` (``.0`` appended to integral values); otherwise ``1e+30`` / ``1.5e-7`` (sign
    always written, exponent not zero-padded, no ``.0`` on a single digit)."""
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    k = (int(exponent) if exponent else 0) - len(frac_part)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    length = len(digits)
    kk = length + k  # 10^(kk-1) <= value < 10^kk
    if 0 <= k and kk <= 16:
        return f"{sign}{digits}{'0' * k}.0"
    if 0 < kk <= 16:
        return f"{sign}{digits[:kk]}.{digits[kk:]}"
    if -5 < kk <= 0:
        return f"{sign}0.{'0' * -kk}{digits}"
    exponent_text = f"e{'+' if kk >= 1 else '-'}{abs(kk - 1)}"
    if length == 1:
        return f"{sign}{digits}{exponent_text}"
    return f"{sign}{digits[0]}.{digits[1:]}{exponent_text}"


def serde_compact(value: Any) -> str:
    """``value`` (as produced by :class:`StrictJsonParser`) in serde_json's compact form."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return serde_f64(value)
    if isinstance(value, str):
        return serde_string(value)
    if isinstance(value, list):
        return "[" + ",".join(serde_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(serde_string(k) + ":" + serde_compact(v) for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def json_container_depth(value: Any) -> int:
    """Nesting depth: each object or array counts one, scalars nothing (iterative, so any
    depth Python's own ``json`` module produced is measured without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


# --------------------------------------------------------------------------------------------
# Trusted keys (ECT-KEY-3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedKey:
    """A trusted P-256 public key, optionally bound to an issuer (ECT-KEY-2)."""

    kid: str
    public_key: ec.EllipticCurvePublicKey
    issuer: Optional[str]


def _key_invalid(why: str) -> EctError:
    return EctError("key.invalid", "ECT-KEY-3", why)


def _jwk_text(jwk: dict[str, Any], name: str) -> Optional[str]:
    """An optional string member of a JWK: absent is ``None``; any other type (``null``
    included) is an error."""
    if name not in jwk:
        return None
    value = jwk[name]
    if not isinstance(value, str):
        raise _key_invalid(f"`{name}` must be a string")
    return value


def _jwk_coordinate(jwk: dict[str, Any], name: str) -> int:
    """ECT-KEY-3: ``x``/``y`` exactly 32 bytes of strict base64url, a field element."""
    text = jwk.get(name)
    if not isinstance(text, str):
        raise _key_invalid(f"`{name}` must be a string")
    raw = b64url_decode_strict(text)
    if raw is None or len(raw) != 32:
        raise _key_invalid(f"`{name}` is not 32 bytes of strict base64url")
    value = int.from_bytes(raw, "big")
    if value >= P256_P:
        raise _key_invalid(f"`{name}` is not a field element")
    return value


def ect_key_3_load_jwk(jwk: Any) -> TrustedKey:
    """ECT-KEY-3 (and the decisions' additions, src/_documentation/decisions.md) for one trusted JWK."""
    if not isinstance(jwk, dict):
        raise _key_invalid("a key is not an object")
    if _jwk_text(jwk, "kty") != "EC":
        raise _key_invalid("kty must be EC")
    if _jwk_text(jwk, "crv") != "P-256":
        raise _key_invalid("crv must be P-256")
    alg = _jwk_text(jwk, "alg")
    if alg is not None and alg != "ES256":
        raise _key_invalid("alg must be ES256")
    usage = _jwk_text(jwk, "use")
    if usage is not None and usage != "sig":
        raise _key_invalid("use must be sig")
    if "d" in jwk:
        raise _key_invalid("a trusted public key carries a private part")
    kid = _jwk_text(jwk, "kid")
    if not kid:
        raise _key_invalid("kid must be a non-empty string")
    issuer = jwk.get("iss")
    if "iss" in jwk and not (isinstance(issuer, str) and issuer):
        raise _key_invalid("iss must be a non-empty string")
    x = _jwk_coordinate(jwk, "x")
    y = _jwk_coordinate(jwk, "y")
    try:  # refuses points off the curve (the identity has no affine form on P-256)
        public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise _key_invalid("x/y is not a point on P-256") from None
    return TrustedKey(kid=kid, public_key=public_key, issuer=issuer)


def load_jwks(jwks: Any) -> dict[str, TrustedKey]:
    """ECT-KEY-3: a JWK Set ``{"keys": [...]}`` of public P-256 keys, by ``kid``.

    Refused (``key.invalid``): anything the reference cannot read as a JSON object (including
    nesting deeper than its parser allows), a missing, non-array or empty ``keys``, any bad key
    (see :func:`ect_key_3_load_jwk`), a ``kid`` that repeats, and one public key under two
    ``kid``s (SPEC.md ECT-KEY-3: its holder could choose its issuer binding through ``kid``).
    """
    if not isinstance(jwks, dict) or json_container_depth(jwks) >= JSON_DEPTH_LIMIT:
        raise _key_invalid("not a JWK Set object")
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise _key_invalid("`keys` must be an array")
    if not keys:
        raise _key_invalid("the key set is empty")
    out: dict[str, TrustedKey] = {}
    kid_of_point: dict[tuple[int, int], str] = {}
    for jwk in keys:
        key = ect_key_3_load_jwk(jwk)
        if key.kid in out:
            raise _key_invalid(f"duplicate kid {key.kid!r}")
        numbers = key.public_key.public_numbers()
        point = (numbers.x, numbers.y)
        if point in kid_of_point:
            raise _key_invalid(f"kid {key.kid!r} is the same public key as {kid_of_point[point]!r}")
        kid_of_point[point] = key.kid
        out[key.kid] = key
    return out


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The verifier's settings (SPEC.md defaults where a case leaves one out)."""

    now: int = 0
    audience: str = ""
    leeway: int = 30
    max_iat_age: int = 900
    max_par: int = 100
    max_token_bytes: int = 65536
    skew: int = 30
    ancestor_budget: int = 10_000
    dag_partial: bool = False
    max_field_bytes: int = 65536
    #: ``None`` when ``settings.profile`` is missing or names no known profile.
    profile: Optional[Profile] = DRAFT_00

    @staticmethod
    def from_json(raw: Any) -> "Settings":
        """Reads the case's ``settings`` object."""
        raw = raw if isinstance(raw, dict) else {}
        base = Settings()

        def num(name: str) -> int:
            """An integer setting, or its default."""
            value = raw.get(name, getattr(base, name))
            return value if isinstance(value, int) and not isinstance(value, bool) else getattr(base, name)

        audience = raw.get("audience", "")
        profile_name = raw.get("profile")
        return Settings(
            profile=PROFILES.get(profile_name) if isinstance(profile_name, str) else None,
            now=num("now"),
            audience=audience if isinstance(audience, str) else "",
            leeway=num("leeway"),
            max_iat_age=num("max_iat_age"),
            max_par=num("max_par"),
            max_token_bytes=num("max_token_bytes"),
            skew=num("skew"),
            ancestor_budget=num("ancestor_budget"),
            dag_partial=raw.get("dag") == "partial",
            max_field_bytes=num("max_field_bytes"),
        )


# --------------------------------------------------------------------------------------------
# Compact serialization (ECT-JWS-1..3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compact:
    """A token split into its segments, each decoded."""

    signing_input: bytes
    header: bytes
    payload: bytes
    signature: bytes


def ect_jws_1_size(token_bytes: bytes, max_token_bytes: int) -> None:
    """ECT-JWS-1: at most ``max_token_bytes`` long, before anything else."""
    if len(token_bytes) > max_token_bytes:
        raise EctError("jws.too_large", "ECT-JWS-1", f"{len(token_bytes)} > {max_token_bytes} bytes")


def ect_jws_2_segments(token_bytes: bytes) -> list[bytes]:
    """ECT-JWS-2: ASCII only, no whitespace, exactly three non-empty segments."""
    for b in token_bytes:
        if b >= 0x80:
            raise EctError("jws.malformed", "ECT-JWS-2", "non-ASCII byte")
        if chr(b) in _TOKEN_WHITESPACE:
            raise EctError("jws.malformed", "ECT-JWS-2", "whitespace")
    segments = token_bytes.split(b".")
    if len(segments) != 3:
        raise EctError("jws.malformed", "ECT-JWS-2", f"{len(segments)} segments")
    if any(not s for s in segments):
        raise EctError("jws.malformed", "ECT-JWS-2", "empty segment")
    return segments


def ect_jws_3_base64(segments: list[bytes]) -> list[bytes]:
    """ECT-JWS-3: each of the three segments is strict unpadded base64url."""
    out = []
    for i, segment in enumerate(segments):
        decoded = b64url_decode_strict(segment.decode("ascii"))
        if decoded is None:
            raise EctError("jws.base64", "ECT-JWS-3", f"segment {i}")
        out.append(decoded)
    return out


def split_compact(token: str, max_token_bytes: int) -> Compact:
    """ECT-JWS-1, ECT-JWS-2, ECT-JWS-3 in that order."""
    token_bytes = token.encode("utf-8", errors="surrogatepass")
    ect_jws_1_size(token_bytes, max_token_bytes)
    segments = ect_jws_2_segments(token_bytes)
    header, payload, signature = ect_jws_3_base64(segments)
    return Compact(
        signing_input=segments[0] + b"." + segments[1],
        header=header,
        payload=payload,
        signature=signature,
    )


# --------------------------------------------------------------------------------------------
# JOSE header (ECT-HDR-1..5)
# --------------------------------------------------------------------------------------------


def _ascii_lower(text: str) -> str:
    """Lower-cases ASCII letters only (media types and UUIDs compare ASCII case-insensitively)."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def ect_hdr_1_typ(header: dict[str, Any], profile: Profile) -> None:
    """ECT-HDR-1 (draft-00): ``typ`` is ``wimse-exec+jwt``; ECT-P01-1 (draft-01): ``exec+jwt``
    or the legacy ``wimse-exec+jwt``. Either optionally ``application/``-prefixed, in any ASCII
    case; nothing else (no parameters; ``exec+jwt`` is not draft-00's)."""
    typ = header.get("typ")
    rule = profile.typ_rule
    if not isinstance(typ, str):
        raise EctError("header.typ", rule, "typ missing or not a string")
    top, slash, sub = typ.partition("/")
    if slash:
        if _ascii_lower(top) != "application":
            raise EctError("header.typ", rule, f"{typ!r}")
    else:
        sub = typ
    if _ascii_lower(sub) not in profile.typs:
        raise EctError("header.typ", rule, f"{typ!r}")


def ect_hdr_2_alg(header: dict[str, Any]) -> None:
    """ECT-HDR-2: ``alg`` in the allowlist (exactly ``ES256``), case-sensitive."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGS:
        raise EctError("header.alg", "ECT-HDR-2", f"alg {alg!r}")


def ect_hdr_3_crit(header: dict[str, Any]) -> None:
    """ECT-HDR-3: no ``crit`` at all."""
    if "crit" in header:
        raise EctError("header.crit", "ECT-HDR-3")


def ect_hdr_4_kid(header: dict[str, Any]) -> str:
    """ECT-HDR-4: ``kid`` is a non-empty string. (ECT-HDR-5: no other parameter is read.)"""
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise EctError("header.kid", "ECT-HDR-4")
    return kid


def check_header(header: dict[str, Any], profile: Profile) -> str:
    """ECT-HDR-1 (ECT-P01-1 in draft-01) to ECT-HDR-4 in order; returns the ``kid``."""
    ect_hdr_1_typ(header, profile)
    ect_hdr_2_alg(header)
    ect_hdr_3_crit(header)
    return ect_hdr_4_kid(header)


# --------------------------------------------------------------------------------------------
# Key resolution and signature (ECT-KEY-1, ECT-SIG-1, ECT-SIG-2)
# --------------------------------------------------------------------------------------------


def ect_key_1_resolve(keys: dict[str, TrustedKey], kid: str) -> TrustedKey:
    """ECT-KEY-1: ``kid`` names a key of the verifier's own set (a map lookup)."""
    key = keys.get(kid)
    if key is None:
        raise EctError("key.unknown", "ECT-KEY-1", f"kid {kid!r}")
    return key


def ect_sig_1_encoding(signature: bytes) -> tuple[int, int]:
    """ECT-SIG-1: exactly 64 bytes ``r||s`` with ``0 < r, s < n``."""
    if len(signature) != 64:
        raise EctError("sig.invalid", "ECT-SIG-1", f"{len(signature)}-byte signature")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < P256_N and 0 < s < P256_N):
        raise EctError("sig.invalid", "ECT-SIG-1", "r or s is zero or not below n")
    return r, s


def ect_sig_2_verify(key: TrustedKey, signing_input: bytes, r: int, s: int) -> None:
    """ECT-SIG-2: ECDSA P-256/SHA-256 over ``segment0.segment1`` (high-S accepted)."""
    try:
        key.public_key.verify(utils.encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise EctError("sig.invalid", "ECT-SIG-2", "signature does not verify") from None


# --------------------------------------------------------------------------------------------
# Claims (ECT-CLM-1..13, ECT-TIME-5, ECT-KEY-2)
# --------------------------------------------------------------------------------------------

OPTIONAL_STRING_CLAIMS = ("wid", "inp_hash", "out_hash")


@dataclass
class Claims:
    """Claims that passed ECT-CLM-1 and ECT-CLM-2 (types), values checked later.

    Field names are draft-00's whatever the profile: ``par`` holds draft-01's ``pred``,
    ``ext`` its ``ect_ext``, and ``pol``/``pol_decision`` draft-01's members of ``ect_ext``
    once ECT-P01-4 has checked them."""

    iss: str
    aud: list[str]
    aud_is_array: bool
    iat: int
    exp: int
    jti: str
    exec_act: str
    par: list[str]
    wid: Optional[str] = None
    nbf: Optional[int] = None
    inp_hash: Optional[str] = None
    out_hash: Optional[str] = None
    ext: Optional[dict[str, Any]] = None
    pol: Optional[str] = None
    pol_decision: Optional[str] = None

    @property
    def scope(self) -> tuple[Optional[str], str]:
        """The ``(wid, jti)`` pair, lower-cased: replay scope (ECT-RPL-1) and store key (§7)."""
        return scope_key(self.wid, self.jti)


def scope_key(wid: Optional[str], jti: str) -> tuple[Optional[str], str]:
    """A ``(wid, jti)`` key. UUID hex is case-insensitive (SPEC.md ECT-CLM-5), so both are
    compared ASCII-lower-cased everywhere: replay, DAG uniqueness and lookup."""
    return (None if wid is None else _ascii_lower(wid), _ascii_lower(jti))



def ect_clm_1_required(payload: dict[str, Any], profile: Profile) -> None:
    """ECT-CLM-1: every required claim is present (whatever its type); in draft-01 ``pred``
    instead of ``par`` (ECT-P01-2: a ``par`` alone does not count)."""
    for name in profile.required_claims:
        if name not in payload:
            raise EctError("claims.missing", "ECT-CLM-1", name)


def _type_error(name: str) -> EctError:
    return EctError("claims.type", "ECT-CLM-2", name)


def _string_claim(payload: dict[str, Any], name: str) -> Optional[str]:
    """A string claim: absent is ``None``; present with another type is ``claims.type``."""
    if name not in payload:
        return None
    value = payload[name]
    if not isinstance(value, str):
        raise _type_error(name)
    return value


def _required_string(payload: dict[str, Any], name: str) -> str:
    """A required string claim (present: ECT-CLM-1 ran first)."""
    value = payload[name]
    if not isinstance(value, str):
        raise _type_error(name)
    return value


def _string_array(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _type_error(name)
    return list(value)


def ect_time_5_numeric_date(payload: dict[str, Any], name: str) -> int:
    """ECT-TIME-5 (part of ECT-CLM-2): an integer in ``0 ..= 2^53-1`` (``iat``, ``exp``, and
    ``nbf`` when present). A non-number is a type error (ECT-CLM-2); a fraction, exponent
    syntax, negative or too large value is ECT-TIME-5, code ``claims.type`` either way."""
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(name)
    if not isinstance(value, int) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise EctError("claims.type", "ECT-TIME-5", f"{name} is not an integer NumericDate")
    return value


def ect_clm_2_types(payload: dict[str, Any], profile: Profile) -> Claims:
    """ECT-CLM-2 (with ECT-TIME-5): JSON types, in claim order, under the profile's names.
    In draft-01 top-level ``par``, ``ext``, ``pol`` and ``pol_decision`` are unknown claims,
    ignored (ECT-P01-2..4), as are ``pred`` and ``ect_ext`` in draft-00."""
    iss = _required_string(payload, "iss")
    aud_raw = payload["aud"]
    if isinstance(aud_raw, str):
        aud, aud_is_array = [aud_raw], False
    else:
        aud, aud_is_array = _string_array(aud_raw, "aud"), True
    iat = ect_time_5_numeric_date(payload, "iat")
    exp = ect_time_5_numeric_date(payload, "exp")
    nbf = ect_time_5_numeric_date(payload, "nbf") if "nbf" in payload else None
    jti = _required_string(payload, "jti")
    exec_act = _required_string(payload, "exec_act")
    par = _string_array(payload[profile.par], profile.par)
    wid, inp_hash, out_hash = (_string_claim(payload, n) for n in OPTIONAL_STRING_CLAIMS)
    ext = payload.get(profile.ext)
    if profile.ext in payload and not isinstance(ext, dict):
        raise _type_error(profile.ext)
    pol = pol_decision = None
    if not profile.policy_in_ext:
        pol = _string_claim(payload, "pol")
        pol_decision = _string_claim(payload, "pol_decision")
    return Claims(
        iss=iss, aud=aud, aud_is_array=aud_is_array, iat=iat, exp=exp, nbf=nbf, jti=jti,
        exec_act=exec_act,
        par=par, wid=wid, inp_hash=inp_hash, out_hash=out_hash, ext=ext, pol=pol,
        pol_decision=pol_decision,
    )


def ect_key_2_issuer(key: TrustedKey, claims: Claims) -> None:
    """ECT-KEY-2: a key bound to an issuer verifies only that issuer's tokens."""
    if key.issuer is not None and key.issuer != claims.iss:
        raise EctError("key.issuer_mismatch", "ECT-KEY-2", f"{claims.iss!r} != {key.issuer!r}")


def is_uuid(text: str) -> bool:
    """RFC 9562 text form: 8-4-4-4-12 hex digits in either case, nothing else."""
    return len(text) == 36 and all(
        (c == "-") if i in (8, 13, 18, 23) else (c in _HEX) for i, c in enumerate(text)
    )


def ect_clm_3_iss(c: Claims) -> None:
    """ECT-CLM-3: ``iss`` non-empty."""
    if not c.iss:
        raise EctError("claims.iss", "ECT-CLM-3")


def ect_clm_4_aud(c: Claims) -> None:
    """ECT-CLM-4: non-empty string, or non-empty array of non-empty strings."""
    if not c.aud or any(not a for a in c.aud):
        raise EctError("claims.aud", "ECT-CLM-4")


def ect_clm_5_jti(c: Claims) -> None:
    """ECT-CLM-5: ``jti`` is a UUID."""
    if not is_uuid(c.jti):
        raise EctError("claims.jti", "ECT-CLM-5")


def ect_clm_6_wid(c: Claims) -> None:
    """ECT-CLM-6: ``wid``, when present, is a UUID."""
    if c.wid is not None and not is_uuid(c.wid):
        raise EctError("claims.wid", "ECT-CLM-6")


def ect_clm_7_exec_act(c: Claims) -> None:
    """ECT-CLM-7: ``exec_act`` non-empty."""
    if not c.exec_act:
        raise EctError("claims.exec_act", "ECT-CLM-7")


def ect_clm_8_par(c: Claims) -> None:
    """ECT-CLM-8: every ``par`` element a UUID; no element twice, in any letter case
    (decision; ECT-CLM-5)."""
    seen: set[str] = set()
    for p in c.par:
        if not is_uuid(p):
            raise EctError("claims.par", "ECT-CLM-8", f"{p!r} is not a UUID")
        if _ascii_lower(p) in seen:
            raise EctError("claims.par", "ECT-CLM-8", f"{p!r} appears twice")
        seen.add(_ascii_lower(p))


def ect_clm_9_par_self(c: Claims) -> None:
    """ECT-CLM-9: ``par`` does not contain the token's own ``jti``, in any letter case."""
    if _ascii_lower(c.jti) in (_ascii_lower(p) for p in c.par):
        raise EctError("claims.par_self", "ECT-CLM-9")


def ect_clm_10_par_length(c: Claims, max_par: int) -> None:
    """ECT-CLM-10: at most ``max_par`` parents."""
    if len(c.par) > max_par:
        raise EctError("claims.par_too_long", "ECT-CLM-10", f"{len(c.par)} > {max_par}")


def is_sha256_b64url(text: str) -> bool:
    """ECT-CLM-11: 43 characters of strict base64url decoding to 32 bytes."""
    if len(text) != 43:
        return False
    decoded = b64url_decode_strict(text)
    return decoded is not None and len(decoded) == 32


def ect_clm_11_hashes(c: Claims) -> None:
    """ECT-CLM-11: ``inp_hash`` / ``out_hash`` are base64url SHA-256 digests."""
    for name, value in (("inp_hash", c.inp_hash), ("out_hash", c.out_hash)):
        if value is not None and not is_sha256_b64url(value):
            raise EctError("claims.hash", "ECT-CLM-11", name)


def ect_clm_12_ext(c: Claims) -> None:
    """ECT-CLM-12: ``ext`` at most 4096 bytes as serde_json compact JSON (checked first), and
    at most depth 5 (``ext`` is 1, each nested object or array one more)."""
    if c.ext is None:
        return
    size = len(serde_compact(c.ext).encode("utf-8"))
    if size > MAX_EXT_BYTES:
        raise EctError("claims.ext_size", "ECT-CLM-12", f"{size} bytes")
    if json_container_depth(c.ext) > MAX_EXT_DEPTH:
        raise EctError("claims.ext_depth", "ECT-CLM-12")


def ect_clm_13_pol(c: Claims) -> None:
    """ECT-CLM-13: ``pol`` and ``pol_decision`` together; ``pol`` non-empty; known decision."""
    if c.pol is None and c.pol_decision is None:
        return
    if c.pol is None or c.pol_decision is None:
        raise EctError("claims.pol", "ECT-CLM-13", "pol and pol_decision must appear together")
    if not c.pol:
        raise EctError("claims.pol", "ECT-CLM-13", "pol is empty")
    if c.pol_decision not in POL_DECISIONS:
        raise EctError("claims.pol", "ECT-CLM-13", f"unknown pol_decision {c.pol_decision!r}")


def ect_p01_4_policy_in_ext(c: Claims) -> None:
    """ECT-P01-4 (draft-01): when ``ect_ext`` has a ``pol`` or ``pol_decision`` member,
    ECT-CLM-13's rules apply to the two members, and a member that is not a string is
    ``claims.pol`` too (inside an extension object it is no claim with a type of its own).
    The checked values become the token's policy for ECT-DAG-6."""
    ext = c.ext or {}
    if "pol" not in ext and "pol_decision" not in ext:
        return
    if "pol" not in ext or "pol_decision" not in ext:
        raise EctError("claims.pol", "ECT-P01-4", "pol and pol_decision must appear together")
    pol, decision = ext["pol"], ext["pol_decision"]
    if not isinstance(pol, str) or not isinstance(decision, str):
        raise EctError("claims.pol", "ECT-P01-4", "pol and pol_decision must be strings")
    c.pol, c.pol_decision = pol, decision
    ect_clm_13_pol(c)


def check_claim_values(c: Claims, max_par: int, profile: Profile) -> None:
    """ECT-CLM-3 .. ECT-CLM-13, in order (ECT-CLM-13 read inside ``ect_ext`` in draft-01)."""
    ect_clm_3_iss(c)
    ect_clm_4_aud(c)
    ect_clm_5_jti(c)
    ect_clm_6_wid(c)
    ect_clm_7_exec_act(c)
    ect_clm_8_par(c)
    ect_clm_9_par_self(c)
    ect_clm_10_par_length(c, max_par)
    ect_clm_11_hashes(c)
    ect_clm_12_ext(c)
    if profile.policy_in_ext:
        ect_p01_4_policy_in_ext(c)
    else:
        ect_clm_13_pol(c)


# --------------------------------------------------------------------------------------------
# Time and audience (ECT-TIME-1..4, ECT-TIME-6, ECT-AUD-1)
# --------------------------------------------------------------------------------------------


def ect_time_1_order(c: Claims) -> None:
    """ECT-TIME-1: ``exp > iat``."""
    if c.exp <= c.iat:
        raise EctError("time.exp_before_iat", "ECT-TIME-1")


def ect_time_2_expired(c: Claims, s: Settings) -> None:
    """ECT-TIME-2: expired iff ``now >= exp + leeway``."""
    if s.now >= c.exp + s.leeway:
        raise EctError("time.expired", "ECT-TIME-2")


def ect_time_3_future(c: Claims, s: Settings) -> None:
    """ECT-TIME-3: issued in the future iff ``iat > now + leeway``."""
    if c.iat > s.now + s.leeway:
        raise EctError("time.not_yet_valid", "ECT-TIME-3")


def ect_time_4_age(c: Claims, s: Settings) -> None:
    """ECT-TIME-4: too old iff ``now - iat > max_iat_age`` (an iat ahead of now is age 0)."""
    if max(0, s.now - c.iat) > s.max_iat_age:
        raise EctError("time.too_old", "ECT-TIME-4")


def ect_time_6_not_before(c: Claims, s: Settings) -> None:
    """ECT-TIME-6: ``nbf``, when present, is honoured: not yet valid iff ``nbf > now + leeway``."""
    if c.nbf is not None and c.nbf > s.now + s.leeway:
        raise EctError("time.not_yet_valid", "ECT-TIME-6")


def ect_aud_1_audience(c: Claims, s: Settings) -> None:
    """ECT-AUD-1: the verifier's identifier is ``aud`` or one of its elements (exact)."""
    if s.audience not in c.aud:
        raise EctError("aud.mismatch", "ECT-AUD-1")


# --------------------------------------------------------------------------------------------
# Stores and DAG validation (ECT-DAG-1..6)
# --------------------------------------------------------------------------------------------

Scope = tuple[Optional[str], str]


class TokenStore:
    """Tokens a verifier holds, by ``(wid, jti)``, and for each ``(wid, parent)`` the stored
    tokens that name it, in insertion order (exact, whether or not the parent is held).

    :meth:`referrers` gives a new token's stored children: a token that arrives after a child
    named it (a late parent, SPEC.md §7) is checked against each of them, and only then can a
    ``par`` walk lead back to it (src/_documentation/decisions.md, "The acyclicity walk").
    """

    def __init__(self) -> None:
        self._tokens: dict[Scope, Claims] = {}
        self._referrers: dict[Scope, list[Claims]] = {}
        # ECT-P01-5: per lower-cased identifier, the first token of each workflow scope that
        # holds it (``_holders``: as its jti) or names it (``_namers``: in its par/pred), in
        # insertion order.
        self._holders: dict[str, dict[Optional[str], Claims]] = {}
        self._namers: dict[str, dict[Optional[str], Claims]] = {}

    def get(self, wid: Optional[str], jti: str) -> Optional[Claims]:
        """The stored token with this ``jti`` in scope ``wid``."""
        return self._tokens.get(scope_key(wid, jti))

    def referrers(self, wid: Optional[str], jti: str, limit: int) -> list[Claims]:
        """The first ``limit`` stored tokens naming ``jti`` (in scope ``wid``) as a parent,
        oldest first."""
        return self._referrers.get(scope_key(wid, jti), [])[:limit]

    def held_elsewhere(self, wid: Optional[str], jti: str) -> Optional[Claims]:
        """The oldest stored token with this ``jti`` whose workflow scope is not ``wid``'s."""
        return _first_outside(self._holders.get(_ascii_lower(jti), {}), wid)

    def named_elsewhere(self, wid: Optional[str], jti: str) -> Optional[Claims]:
        """The oldest stored token outside ``wid``'s scope that names ``jti`` as a parent."""
        return _first_outside(self._namers.get(_ascii_lower(jti), {}), wid)

    def insert(self, claims: Claims) -> bool:
        """Adds a token; keeps the first of two with the same scope key."""
        if claims.scope in self._tokens:
            return False
        wid = claims.scope[0]
        for parent in claims.par:
            self._referrers.setdefault(scope_key(claims.wid, parent), []).append(claims)
            self._namers.setdefault(_ascii_lower(parent), {}).setdefault(wid, claims)
        self._holders.setdefault(_ascii_lower(claims.jti), {}).setdefault(wid, claims)
        self._tokens[claims.scope] = claims
        return True


def _first_outside(first_by_scope: dict[Optional[str], Claims], wid: Optional[str]) -> Optional[Claims]:
    """The oldest of ``first_by_scope``'s tokens (dicts keep insertion order) whose workflow
    scope differs from ``wid``'s: another ``wid``, or a ``wid`` on one side only."""
    own = None if wid is None else _ascii_lower(wid)
    for scope, claims in first_by_scope.items():
        if scope != own:
            return claims
    return None


def ect_dag_1_unique(c: Claims, store: TokenStore) -> None:
    """ECT-DAG-1: no stored token with this ``jti`` in this scope."""
    if store.get(c.wid, c.jti) is not None:
        raise EctError("dag.duplicate_jti", "ECT-DAG-1", c.jti)


def ect_dag_2_parents(c: Claims, store: TokenStore, partial: bool, profile: Profile) -> list[Claims]:
    """ECT-DAG-2: every parent resolves in the child's scope; in partial mode a missing parent
    is accepted (and never treated as verified). Returns the present parents, in order.

    With ECT-P01-5 (draft-01), element by element: a parent the child's scope lacks but
    another scope holds is refused in both modes (it is not missing, it is elsewhere)."""
    present = []
    for p in c.par:
        parent = store.get(c.wid, p)
        if parent is not None:
            present.append(parent)
            continue
        if profile.workflow_consistency:
            ect_p01_5_workflow(c, p, store)
        if not partial:
            raise EctError("dag.parent_missing", "ECT-DAG-2", p)
    return present


def ect_p01_5_workflow(c: Claims, parent: str, store: TokenStore) -> None:
    """ECT-P01-5: ``parent``, which the child's workflow does not hold, is not held under
    another workflow either."""
    held = store.held_elsewhere(c.wid, parent)
    if held is not None:
        raise EctError("dag.workflow_mismatch", "ECT-P01-5", f"{parent} is in workflow {held.wid!r}")


def ect_p01_5_late(c: Claims, store: TokenStore) -> None:
    """ECT-P01-5 the other way (the reference's decision for late parents, SPEC.md §10 being
    silent): no stored token of another workflow already names the new ``jti`` as a parent,
    or accepting it would put that token's parent in the wrong workflow."""
    child = store.named_elsewhere(c.wid, c.jti)
    if child is not None:
        raise EctError("dag.workflow_mismatch", "ECT-P01-5", f"stored {child.jti} of workflow {child.wid!r}")


def ect_dag_3_temporal_order(
    c: Claims, parents: list[Claims], children: list[Claims], skew: int
) -> None:
    """ECT-DAG-3: ``P.iat <= child.iat + skew`` for every present parent, then with the new
    token as the (late) parent of each examined stored child."""
    for parent in parents:
        if parent.iat > c.iat + skew:
            raise EctError("dag.temporal_order", "ECT-DAG-3", parent.jti)
    for child in children:
        if c.iat > child.iat + skew:
            raise EctError("dag.temporal_order", "ECT-DAG-3", f"stored child {child.jti}")


def ect_dag_4_5_acyclic(
    c: Claims, parents: list[Claims], children: list[Claims], store: TokenStore, budget: int
) -> None:
    """ECT-DAG-4 with ECT-DAG-5. Every stored child examined and every ``par`` element the walk
    examines costs one of ``budget`` (SPEC.md §7 "Cost"): more children than the budget is
    ``dag.budget``; otherwise, when there is a child, a depth-first walk over the stored
    ancestors (parents in order, the last on top; each token visited once) fails with
    ``dag.budget`` when an edge finds the budget spent and with ``dag.cycle`` when a ``par``
    element is the new ``jti``.

    Without a stored child no ``par`` path can lead back to the new token, so there is no walk
    (src/_documentation/decisions.md)."""
    if len(children) > budget:
        raise EctError("dag.budget", "ECT-DAG-5", str(budget))
    if not children:
        return
    left = budget - len(children)
    visited: set[Scope] = set()
    stack: list[Claims] = []
    for parent in parents:
        if parent.scope not in visited:
            visited.add(parent.scope)
            stack.append(parent)
    while stack:
        node = stack.pop()
        for p in node.par:
            if left == 0:
                raise EctError("dag.budget", "ECT-DAG-5", str(budget))
            left -= 1
            if _ascii_lower(p) == _ascii_lower(c.jti):  # UUIDs: ASCII case-insensitive (ECT-CLM-5)
                raise EctError("dag.cycle", "ECT-DAG-4", node.jti)
            if scope_key(c.wid, p) in visited:
                continue
            nxt = store.get(c.wid, p)
            if nxt is not None:
                visited.add(nxt.scope)
                stack.append(nxt)


def ect_dag_6_parent_policy(c: Claims, parents: list[Claims], children: list[Claims]) -> None:
    """ECT-DAG-6: no dependent task of a ``rejected`` or ``pending_human_review`` parent: of a
    present parent, nor of the new token when a stored child already depends on it."""
    for parent in parents:
        if parent.pol is not None and parent.pol_decision in BLOCKING_DECISIONS:
            raise EctError("dag.parent_policy", "ECT-DAG-6", parent.jti)
    if children and c.pol is not None and c.pol_decision in BLOCKING_DECISIONS:
        raise EctError("dag.parent_policy", "ECT-DAG-6", f"stored child {children[0].jti}")


def validate_dag(c: Claims, store: TokenStore, s: Settings, profile: Profile) -> None:
    """SPEC.md §7, rule by rule, each for the parents and then for the stored children (the
    tokens already naming this one, oldest first, at most ``ancestor_budget + 1``): DAG-1,
    DAG-2 (with ECT-P01-5 per element in draft-01), ECT-P01-5 for the new ``jti`` (draft-01),
    DAG-3, DAG-4/5, DAG-6."""
    ect_dag_1_unique(c, store)
    parents = ect_dag_2_parents(c, store, s.dag_partial, profile)
    if profile.workflow_consistency:
        ect_p01_5_late(c, store)
    children = store.referrers(c.wid, c.jti, s.ancestor_budget + 1)
    ect_dag_3_temporal_order(c, parents, children[: s.ancestor_budget], s.skew)
    ect_dag_4_5_acyclic(c, parents, children, store, s.ancestor_budget)
    ect_dag_6_parent_policy(c, parents, children)


# --------------------------------------------------------------------------------------------
# The verifier
# --------------------------------------------------------------------------------------------


def check_token(
    token: str,
    keys: Optional[dict[str, TrustedKey]],
    s: Settings,
    *,
    at_verifier: bool = True,
    max_par: Optional[int] = None,
    max_token_bytes: Optional[int] = None,
) -> Claims:
    """SPEC.md §2–§6 except replay, in SPEC.md's order of checks.

    ``keys=None`` skips KEY-1, SIG-1, SIG-2 and KEY-2; ``at_verifier=False`` skips the rules
    relative to a verifier (TIME-2..4, AUD-1); both are for tokens read back from a ledger.
    """
    profile = s.profile
    if profile is None:
        raise EctError("unmapped", "-", "no known profile")
    compact = split_compact(token, s.max_token_bytes if max_token_bytes is None else max_token_bytes)
    header = parse_json_segment(compact.header)
    kid = check_header(header, profile)
    key: Optional[TrustedKey] = None
    if keys is not None:
        key = ect_key_1_resolve(keys, kid)
        r, sig_s = ect_sig_1_encoding(compact.signature)
        ect_sig_2_verify(key, compact.signing_input, r, sig_s)
    payload = parse_json_segment(compact.payload)  # only after the signature verified
    ect_clm_1_required(payload, profile)
    claims = ect_clm_2_types(payload, profile)
    if key is not None:
        ect_key_2_issuer(key, claims)
    check_claim_values(claims, s.max_par if max_par is None else max_par, profile)
    ect_time_1_order(claims)
    if at_verifier:
        ect_time_2_expired(claims, s)
        ect_time_3_future(claims, s)
        ect_time_4_age(claims, s)
        ect_time_6_not_before(claims, s)
        ect_aud_1_audience(claims, s)
    return claims


class Verifier:
    """One verifier: trusted keys, settings and its replay record (ECT-RPL-1)."""

    def __init__(self, keys: dict[str, TrustedKey], settings: Settings, *, replay: bool = True) -> None:
        self.keys = keys
        self.settings = settings
        self.replay_enabled = replay
        self._seen: set[Scope] = set()

    def verify_stateless(self, token: str) -> Claims:
        """§2–§6 without replay."""
        return check_token(token, self.keys, self.settings)

    def ect_rpl_1_replay(self, claims: Claims) -> None:
        """ECT-RPL-1: a ``(wid, jti)`` already accepted is a replay; otherwise record it.

        Every case runs at one ``now`` at which each accepted token is unexpired, so no
        recorded entry expires within a case."""
        if not self.replay_enabled:
            return
        if claims.scope in self._seen:
            raise EctError("replay.jti", "ECT-RPL-1", claims.jti)
        self._seen.add(claims.scope)

    def verify(self, token: str) -> Claims:
        """§2–§6, then replay."""
        claims = self.verify_stateless(token)
        self.ect_rpl_1_replay(claims)
        return claims

    def verify_in(self, token: str, store: TokenStore) -> Claims:
        """§2–§6, the DAG rules against ``store``, then replay."""
        claims = self.verify_stateless(token)
        assert self.settings.profile is not None  # verify_stateless refused a case without one
        validate_dag(claims, store, self.settings, self.settings.profile)
        self.ect_rpl_1_replay(claims)
        return claims

    def accept(self, token: str, ledger: TokenStore) -> Claims:
        """:meth:`verify_in` against ``ledger``, then append the token to it (ECT-LED-3)."""
        claims = self.verify_in(token, ledger)
        ledger.insert(claims)
        return claims


# --------------------------------------------------------------------------------------------
# HTTP transport (ECT-HTTP-2..4)
# --------------------------------------------------------------------------------------------


def ect_http_4_size(lines: list[bytes], max_bytes: int) -> None:
    """ECT-HTTP-4: the combined value (lines joined with ``", "``) is bounded; checked first."""
    combined = sum(len(v) for v in lines) + 2 * max(0, len(lines) - 1)
    if combined > max_bytes:
        raise EctError("http.too_large", "ECT-HTTP-4", f"{combined} > {max_bytes}")


def ect_http_3_element(element: bytes) -> str:
    """ECT-HTTP-3: a non-empty element of base64url characters and ``.``."""
    if not element:
        raise EctError("http.malformed", "ECT-HTTP-3", "empty element")
    if any(b not in _HTTP_ELEMENT_BYTES for b in element):
        raise EctError("http.malformed", "ECT-HTTP-3", "bad character")
    return element.decode("ascii")


def split_field_lines(field_lines: list[str], max_bytes: int) -> list[str]:
    """ECT-HTTP-2: field lines and comma-separated elements combine in order; optional
    whitespace (SP, HTAB) around each element is dropped. No line at all: no token."""
    lines = [line.encode("utf-8", errors="surrogatepass") for line in field_lines]
    ect_http_4_size(lines, max_bytes)
    tokens = []
    for line in lines:
        for element in line.split(b","):
            tokens.append(ect_http_3_element(element.strip(b" \t")))
    return tokens


# --------------------------------------------------------------------------------------------
# Ledger files (ECT-LED-3, ECT-LED-4; src/_documentation/crash_recovery.md, "Ledger entries")
# --------------------------------------------------------------------------------------------


def _ledger_chain(why: str) -> EctError:
    return EctError("ledger.chain", "ECT-LED-4", why)


def ledger_entry_hash(seq: int, at: int, prev: bytes, token: str) -> bytes:
    """``SHA-256("wimse-ect-ledger-v1\\n" || seq || at || prev || token)``."""
    h = hashlib.sha256(LEDGER_DOMAIN)
    h.update(seq.to_bytes(8, "big"))
    h.update(at.to_bytes(8, "big"))
    h.update(prev)
    h.update(token.encode("utf-8"))
    return h.digest()


def ledger_line(seq: int, at: int, prev: bytes, digest: bytes, token: str) -> str:
    """The canonical file line, without its ``\\n``."""
    return (
        f'{{"seq":{seq},"at":{at},"prev":"{b64url_encode(prev)}",'
        f'"hash":"{b64url_encode(digest)}","token":{serde_string(token)}}}'
    )


def _ledger_u64(entry: dict[str, Any], name: str) -> int:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise _ledger_chain(f"not a ledger entry: {name}")
    return value


def _ledger_hash(entry: dict[str, Any], name: str) -> bytes:
    value = entry.get(name)
    raw = b64url_decode_strict(value) if isinstance(value, str) else None
    if raw is None or len(raw) != 32:
        raise _ledger_chain(f"not a ledger entry: {name}")
    return raw


def ect_led_4_parse_line(line: bytes) -> tuple[int, int, bytes, bytes, str]:
    """One line in exactly the canonical form: ``(seq, at, prev, hash, token)``."""
    try:
        entry = parse_json_object(line)
    except (JsonSyntaxError, JsonDuplicateMember) as e:
        raise _ledger_chain(f"not a ledger entry: {e}") from None
    seq = _ledger_u64(entry, "seq")
    at = _ledger_u64(entry, "at")
    prev = _ledger_hash(entry, "prev")
    digest = _ledger_hash(entry, "hash")
    token = entry.get("token")
    if not isinstance(token, str):
        raise _ledger_chain("not a ledger entry: token")
    if ledger_line(seq, at, prev, digest, token).encode("utf-8") != line:
        raise _ledger_chain("not in canonical form")
    return seq, at, prev, digest, token


def ect_led_4_link(position: int, head: bytes, seq: int, at: int, prev: bytes, digest: bytes, token: str) -> None:
    """ECT-LED-4: the entry is the next link: sequence number, previous hash, own hash."""
    if seq != position:
        raise _ledger_chain(f"entry {position} has sequence number {seq}")
    if prev != head:
        raise _ledger_chain(f"entry {position} does not link to the previous entry")
    if digest != ledger_entry_hash(seq, at, prev, token):
        raise _ledger_chain(f"entry {position} has a wrong hash")


#: The ``\\u00xx`` escapes serde_json writes: C0 controls without a short escape.
_SERDE_U_ESCAPES = tuple(
    f"{c:04x}".encode("ascii") for c in range(0x20) if c not in (0x08, 0x09, 0x0A, 0x0C, 0x0D)
)


def _prefix_literal(rest: bytes, literal: bytes) -> tuple[str, bytes]:
    if rest.startswith(literal):
        return "next", rest[len(literal):]
    return ("end" if literal.startswith(rest) else "no"), b""


def _prefix_u64(rest: bytes) -> tuple[str, bytes]:
    m = re.match(rb"0|[1-9][0-9]*", rest)
    if m is None or int(m.group()) >= 2**64:
        return "no", b""
    after = rest[m.end():]
    if not after:
        return "end", b""
    if after[:1].isdigit():  # a leading zero
        return "no", b""
    return "next", after


def _prefix_hash(rest: bytes) -> tuple[str, bytes]:
    if len(rest) < 43:
        ok = all(chr(b) in _B64URL_ALPHABET for b in rest)
        return ("end" if ok else "no"), b""
    raw = b64url_decode_strict(rest[:43].decode("latin-1"))
    if raw is None or len(raw) != 32:
        return "no", b""
    return "next", rest[43:]


def _prefix_string(rest: bytes) -> tuple[str, bytes]:
    """The token's characters as serde_json writes them, then the closing quote."""
    i = 0
    while i < len(rest):
        b = rest[i]
        if b == 0x22:
            return "next", rest[i + 1:]
        if b == 0x5C:
            escape = rest[i + 1:i + 2]
            if not escape:
                return "end", b""
            if escape in (b'"', b"\\", b"b", b"f", b"n", b"r", b"t"):
                i += 2
                continue
            if escape != b"u":
                return "no", b""
            digits = rest[i + 2:i + 6]
            if not any(e.startswith(digits) for e in _SERDE_U_ESCAPES):
                return "no", b""
            if len(digits) < 4:
                return "end", b""
            i += 6
            continue
        if b < 0x20:
            return "no", b""
        size = 1 if b < 0x80 else 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 0
        if size == 0:
            return "no", b""
        chunk = rest[i:i + size]
        try:
            if len(chunk) < size:  # cut by the end of the segment: a valid start?
                codecs.getincrementaldecoder("utf-8")().decode(chunk, final=False)
                return "end", b""
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return "no", b""
        i += size
    return "end", b""


def ect_led_4_is_torn_tail(segment: bytes) -> bool:
    """Whether ``segment`` (what follows a ledger file's last ``\\n``, not empty) is a strict prefix
    of some canonical entry line: what an interrupted write leaves. Anything else there is the
    last line, missing its ``\\n``, and is checked like every line."""
    parts: list[Callable[[bytes], tuple[str, bytes]]] = [
        lambda r: _prefix_literal(r, b'{"seq":'),
        _prefix_u64,
        lambda r: _prefix_literal(r, b',"at":'),
        _prefix_u64,
        lambda r: _prefix_literal(r, b',"prev":"'),
        _prefix_hash,
        lambda r: _prefix_literal(r, b'","hash":"'),
        _prefix_hash,
        lambda r: _prefix_literal(r, b'","token":"'),
        _prefix_string,
        lambda r: _prefix_literal(r, b"}"),
    ]
    rest = segment
    for part in parts:
        if not rest:
            return True
        status, rest = part(rest)
        if status != "next":
            return status == "end"
    return False  # a complete line (or more)


def read_ledger(text: str, profile: Profile) -> int:
    """Reads a ledger file's content, its tokens under ``profile``; returns the number of
    entries.

    Every line must be the next canonical, correctly chained entry whose token passes the
    structural and claim rules (no signature, time or audience: the keys and the time of
    acceptance are not at hand) under the widest limits, with no ``(wid, jti)`` twice
    (ECT-LED-3). After the last ``\\n``, a strict prefix of an entry line is a torn write,
    dropped; anything else is the last line, missing its ``\\n``, and checked like the others."""
    data = text.encode("utf-8", errors="surrogatepass")
    intact = data.rfind(b"\n") + 1
    lines = data[:intact].split(b"\n")[:-1] if intact else []
    if data[intact:] and not ect_led_4_is_torn_tail(data[intact:]):
        lines.append(data[intact:])
    seen: set[Scope] = set()
    head = bytes(32)
    lenient = Settings(profile=profile)
    for position, line in enumerate(lines):
        seq, at, prev, digest, token = ect_led_4_parse_line(line)
        ect_led_4_link(position, head, seq, at, prev, digest, token)
        try:
            claims = check_token(
                token, None, lenient, at_verifier=False, max_par=WIDEST_MAX_PAR,
                max_token_bytes=WIDEST_MAX_TOKEN_BYTES,
            )
        except EctError as e:
            raise _ledger_chain(f"line {position + 1}: the stored token does not parse: {e}") from None
        if claims.scope in seen:
            raise EctError("ledger.duplicate", "ECT-LED-3", claims.jti)
        seen.add(claims.scope)
        head = digest
    return len(lines)


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


def _string_list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EctError("unmapped", "-", "expected a list of strings")
    return value


def _setup(index: int, what: str, run: Callable[[], Any]) -> None:
    """Runs the set-up of a case (a ``before`` or ``store`` token), which must be accepted."""
    try:
        run()
    except EctError as e:
        raise EctError(e.code, e.rule, f"{what} token {index} is not accepted: {e}") from None


def run_token_case(case: dict[str, Any], s: Settings) -> None:
    """``kind`` ``token``: modes ``verify``, ``ledger``, ``store``."""
    keys = load_jwks(case.get("jwks"))
    token = case.get("token")
    if not isinstance(token, str):
        raise EctError("unmapped", "-", "a token case without a token")
    mode = case.get("mode") or "verify"
    verifier = Verifier(keys, s)
    if mode == "verify":
        for i, t in enumerate(_string_list(case.get("before"))):
            _setup(i, "before", lambda t=t: verifier.verify(t))
        verifier.verify(token)
    elif mode == "ledger":
        ledger = TokenStore()
        for i, t in enumerate(_string_list(case.get("before"))):
            _setup(i, "before", lambda t=t: verifier.accept(t, ledger))
        verifier.accept(token, ledger)
    elif mode == "store":
        store_verifier = Verifier(keys, s, replay=False)
        store = TokenStore()
        for i, t in enumerate(_string_list(case.get("store"))):
            _setup(i, "store", lambda t=t: store.insert(store_verifier.verify(t)))
        verifier.verify_in(token, store)
    else:
        raise EctError("unmapped", "-", f"unknown mode {mode!r}")


def answer(case: Any) -> dict[str, Any]:
    """The answer to one case (never raises)."""
    case_id = case.get("id") if isinstance(case, dict) else None
    try:
        if not isinstance(case, dict):
            raise EctError("unmapped", "-", "a case is not an object")
        s = Settings.from_json(case.get("settings"))
        if s.profile is None:
            # A case of a profile this implementation does not know (or of none): not answered.
            return {"id": case_id, "result": "skip"}
        kind = case.get("kind")
        if kind == "token":
            run_token_case(case, s)
        elif kind == "jwks":
            load_jwks(case.get("jwks"))
        elif kind == "http":
            tokens = split_field_lines(_string_list(case.get("field_lines")), s.max_field_bytes)
            # ECT-HTTP-2: the harness compares the split tokens, in order.
            return {"id": case_id, "result": "valid", "tokens": tokens}
        elif kind == "ledger":
            ledger = case.get("ledger")
            if not isinstance(ledger, str):
                raise EctError("unmapped", "-", "a ledger case without a ledger")
            read_ledger(ledger, s.profile)
        else:
            return {"id": case_id, "result": "skip"}
        return {"id": case_id, "result": "valid"}
    except EctError as e:
        return {"id": case_id, "result": "invalid", "code": e.code}
    except Exception as e:  # noqa: BLE001 - an answer is owed for every case
        print(f"ect_impl: internal error on {case_id!r}: {type(e).__name__}: {e}", file=sys.stderr)
        return {"id": case_id, "result": "invalid", "code": "unmapped"}


_ID_PATTERN = re.compile(r'"id"\s*:\s*("(?:[^"\\]|\\.)*")')


def answer_line(line: str) -> dict[str, Any]:
    """The answer to one protocol line, even one that is not valid JSON."""
    try:
        case = json.loads(line)
    except (ValueError, RecursionError):
        m = _ID_PATTERN.search(line)
        case_id = None
        if m:
            try:
                case_id = json.loads(m.group(1))
            except ValueError:
                case_id = None
        return {"id": case_id, "result": "invalid", "code": "unmapped"}
    return answer(case)


def main() -> int:
    """Answers every non-blank line of stdin, one ASCII JSON line each, flushed.

    Lines are split on LF only and decoded as UTF-8 whatever the locale."""
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", errors="surrogateescape")
        if not line.strip():
            continue
        out.write(json.dumps(answer_line(line)).encode("ascii") + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
