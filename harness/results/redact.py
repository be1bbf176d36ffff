"""Redaction of secrets in text that goes into the report. Log tails, errors and LLM answers
can carry an API key (a traceback printing the client's settings, an env dump), and a report
is shared: every string is passed through here before it reaches a template or a chart."""

from __future__ import annotations

import re
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
