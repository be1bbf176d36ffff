"""Redaction of secrets: the one place they are blanked out, for every layer (a bottom module:
it imports nothing of the harness).

- In what the harness writes and shows (``results.json``, the report): log tails, errors and
  LLM answers can carry an API key (a traceback printing the client's settings, an env dump),
  and both are shared. ``redact`` blanks what looks like a secret in text, ``redact_data``
  every string of a JSON-like value and the values of secret-named keys.
- In what the fake LLM records or relays (cassettes, a forwarded answer): the keys the
  request itself carried are known, and are blanked wherever they show (``redact_secrets``,
  ``redact_bytes``), with anything that looks like an OpenAI key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

REDACTED = "[redacted]"

# A quoted value, or a run of characters up to whitespace, a quote or a separator.
_VALUE = r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;&}\]]+)"

# Names whose values are secrets: api_key/api-key anywhere, and env-like names ending in
# _KEY/_TOKEN/_SECRET or PASSWORD (OPENAI_API_KEY, GITHUB_TOKEN, DB_PASSWORD, password).
# A bare ``token`` is left alone: the harness's correlation tokens (rrh-...) are not secrets.
_NAME = r"(?P<name>\b(?:[A-Za-z0-9_-]*api[_-]?key|[A-Za-z0-9_]*_(?:key|token|secret)|[A-Za-z0-9_]*password|passwd|secret)\b)"

_CREDENTIAL = r"(?:(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{6,}|[A-Za-z0-9._~+/=-]{20,})"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # name = value, name: value, "name": "value" (the key's closing quote sits before the separator)
    (re.compile(_NAME + r"(?P<sep>[\"']?\s*[:=]\s*)" + _VALUE, re.IGNORECASE), "name"),
    # Whatever follows an Authorization header's scheme; elsewhere, a Bearer credential with a
    # digit or of some length, so prose ("Bearer tokens are...") stays readable.
    (re.compile(r"(?P<scheme>\bAuthorization[\"']?\s*[:=]\s*[\"']?(?:Basic|Bearer|Token))\s+[A-Za-z0-9._~+/=-]{4,}", re.IGNORECASE), "scheme"),
    (re.compile(r"(?P<scheme>\bBearer)\s+" + _CREDENTIAL, re.IGNORECASE), "scheme"),
    # OpenAI-style keys anywhere (sk-..., sk-proj-..., sk-ant-...).
    (re.compile(r"\bsk-[A-Za-z0-9][A-Za-z0-9_-]{7,}"), "key"),
)


def _keep_name(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('name')}{match.group('sep')}{quote}{REDACTED}{quote}"


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``[redacted]``."""
    for pattern, kind in _PATTERNS:
        if kind == "name":
            text = pattern.sub(_keep_name, text)
        elif kind == "scheme":
            text = pattern.sub(lambda m: f"{m.group('scheme')} {REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


# A known secret shorter than this is left alone: a short "key" (tests use "x") would blank
# out ordinary text.
MIN_SECRET_LEN = 8
# An upstream refusing a key tends to echo it, whole or masked, in its error message.
_KEY_LIKE = re.compile(rb"\bsk-[A-Za-z0-9_*\-]{8,}")


def redact_secrets(text: str, secrets: Sequence[str]) -> str:
    """``text`` with each of the given ``secrets`` (the keys a request carried) replaced by
    ``[redacted]``."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LEN:
            text = text.replace(secret, REDACTED)
    return text


def redact_bytes(content: bytes, *secrets: str) -> bytes:
    """``content`` (a body relayed from a provider) without the given ``secrets``, or
    anything that looks like an OpenAI key (``sk-[redacted]``)."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LEN:
            content = content.replace(secret.encode(), REDACTED.encode())
    return _KEY_LIKE.sub(b"sk-" + REDACTED.encode(), content)


_SECRET_KEY = re.compile(r"^" + _NAME + r"$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """True for a mapping key whose value is a secret (``{"api_key": ...}``)."""
    return bool(_SECRET_KEY.match(name)) or name.lower() == "authorization"


def redact_data(data: Any) -> Any:
    """A copy of JSON-like ``data`` with every string redacted, and the values of secret
    keys replaced whole (their value may not look like a secret on its own)."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {
            key: (REDACTED if isinstance(key, str) and is_secret_name(key) and value is not None else redact_data(value))
            for key, value in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [redact_data(item) for item in data]
    return data
