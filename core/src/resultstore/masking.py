"""One way to keep secrets out of reprs, errors, logs and CLI output.

Every plugin and the CLI mask through these functions; a plugin never writes
its own masking code (see ``docs/plugin-authors.md``)::

    >>> mask_url("redis://user:p@ss/w#rd@host:6379/0")
    'redis://user:**@host:6379/0'
    >>> mask_url("sentinel://:s;cret@h1:26379;sentinel://:s;cret@h2:26379")
    'sentinel://:**@h1:26379;sentinel://:**@h2:26379'
    >>> mask_url("azureblockblob://AccountName=a;AccountKey=c2VjcmV0==;EndpointSuffix=x")
    'azureblockblob://AccountName=a;AccountKey=**;EndpointSuffix=x'
    >>> mask_text("cannot connect to redis://:hunter22@db:6379 (hunter22)", url_secrets("redis://:hunter22@db"))
    'cannot connect to redis://:**@db:6379 (**)'

Rules, chosen so that a password made of URL delimiters cannot escape:

* A URL's userinfo ends at its **last** ``@`` (passwords may hold ``@ / ? # ; :``
  unencoded); the password is everything after the first ``:`` of the userinfo.
  When a query value holds an ``@`` this masks more than the password, never less.
* ``;`` separates URLs only where another ``scheme://`` follows (sentinel and
  cluster lists), so a ``;`` inside a password does not split it.
* Query parameters and ``Name=value;`` connection-string pairs whose name says
  secret (``password``, ``AccountKey``, ``SharedAccessSignature``, ``sig``,
  ``token``, ``secret``, ``*_key``...) are masked; file paths (``ssl_keyfile``)
  and key prefixes are not secrets.
* :func:`mask_text` masks the URLs it finds in free text and every occurrence of
  the known secrets, in the forms they take in messages (as given, percent-encoded,
  percent-decoded, ``repr``/JSON-escaped).  Secrets shorter than
  :data:`MIN_FREE_TEXT` characters are masked only where they sit in a URL:
  replacing every letter ``p`` of a message would ruin it and hide nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus

__all__ = ["MASK", "MIN_FREE_TEXT", "mask_url", "split_urls", "url_secrets", "url_password",
           "settings_secrets", "mask_text", "Masker", "Secret", "secret_values"]

#: What a secret is replaced with.
MASK = "**"
#: Shortest secret replaced wherever it occurs in free text.
MIN_FREE_TEXT = 4

_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*://"
_NEXT_URL = re.compile(rf";(?={_SCHEME})")
_URL_IN_TEXT = re.compile(rf"{_SCHEME}[^\s'\"<>`]*")
_SECRET_NAME = re.compile(
    r"(?i)(pass|pwd|secret|token|signature|credential|auth|(^|[_.-]|account|access|api|"
    r"private|shared|sas)key(_?id)?$|^sig$|^x-amz-credential$)")
_NOT_SECRET_NAME = re.compile(r"(?i)(file|path|prefix|certs|provider|method|mechanism|source)$")
#: ``Name=value;`` connection-string pairs (the value runs to ``;``) and query pairs.
_PAIRS = (re.compile(r"(?P<sep>^|;)(?P<name>[A-Za-z][\w.-]*)=(?P<value>[^;]*)"),
          re.compile(r"(?P<sep>[?&])(?P<name>[A-Za-z][\w.-]*)=(?P<value>[^&;#]*)"))


def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """``(userinfo, host-and-after)`` of what follows ``scheme://``; userinfo ends at the last ``@``.

    A connection string (``Name=value;...``, the user part holds ``=``) has no userinfo.
    """
    at = rest.rfind("@")
    if at < 0 or "=" in re.split(r"[:@]", rest, maxsplit=1)[0]:
        return None, rest
    return rest[:at], rest[at + 1:]


def _mask_pairs(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match["value"] and _is_secret_name(match["name"]):
            return f"{match['sep']}{match['name']}={MASK}"
        return match[0]

    for pattern in _PAIRS:
        text = pattern.sub(one, text)
    return text


def _mask_one(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _mask_pairs(url)
    userinfo, after = _split_userinfo(rest)
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        if colon and password:
            return f"{scheme}://{user}:{MASK}@{_mask_pairs(after)}"
        return f"{scheme}://{userinfo}@{_mask_pairs(after)}"
    return f"{scheme}://{_mask_pairs(rest)}"


def split_urls(url: str) -> list[str]:
    """The URLs of a ``;``-separated list (sentinel, cluster), splitting only before a ``scheme://``.

    >>> split_urls("sentinel://:a;b@h1:1;sentinel://h2:2")
    ['sentinel://:a;b@h1:1', 'sentinel://h2:2']
    """
    return _NEXT_URL.split(url)


def mask_url(url: str) -> str:
    """``url`` with every password and credential replaced by :data:`MASK`.

    Handles ``;``-separated URL lists (sentinel, cluster, memcached), compound
    schemes (``db+postgresql://``), credential query parameters and connection
    strings (Azure ``AccountKey=...;``).  Not a URL at all: returned with its
    ``Name=secret`` pairs masked.
    """
    masked = ";".join(_mask_one(part) for part in _NEXT_URL.split(url))
    for secret in sorted(url_secrets(url), key=len, reverse=True):  # what the structure missed
        if len(secret) >= MIN_FREE_TEXT:
            masked = masked.replace(secret, MASK)
    return masked


def url_password(url: str) -> str | None:
    """The password of one URL by the rules above (userinfo ends at the last ``@``), as written.

    A parser that finds another password (``urlsplit`` stops the userinfo at the first
    ``/ ? #``) was given a password that needs percent-encoding: compare the two to refuse
    such a URL with a clear error instead of connecting with a piece of the password.

    >>> url_password("redis://:pa#ss@host/0")
    'pa#ss'
    """
    _, sep, rest = url.partition("://")
    userinfo = _split_userinfo(rest)[0] if sep else None
    if userinfo is None:
        return None
    return userinfo.partition(":")[2] or None


def url_secrets(url: str) -> frozenset[str]:
    """The secrets inside ``url``: passwords and credential values, as written and decoded."""
    found: set[str] = set()
    for part in _NEXT_URL.split(url):
        _, sep, rest = part.partition("://")
        userinfo, after = _split_userinfo(rest) if sep else (None, part)
        if userinfo is not None:
            password = userinfo.partition(":")[2]
            if password:
                found.add(password)
        for pattern in _PAIRS:
            found.update(match["value"] for match in pattern.finditer(after)
                         if match["value"] and _is_secret_name(match["name"]))
        query = after.partition("?")[2]
        try:
            pairs = parse_qsl(query, keep_blank_values=False)
        except ValueError:
            pairs = []
        found.update(value for name, value in pairs if _is_secret_name(name))
    return frozenset(s for s in found if s)


def settings_secrets(settings: Mapping[str, Any]) -> frozenset[str]:
    """Secrets among settings: values of secret-named settings (``s3_secret_access_key``,
    ``redis_password``...) and the passwords of URL-valued ones (``broker_url``)."""
    found: set[str] = set()
    for name, value in settings.items():
        if isinstance(value, str) and value:
            if _is_secret_name(str(name)):
                found.add(value)
            elif "://" in value:
                found |= url_secrets(value)
        elif name == "resultstore_encryption_keys" and isinstance(value, Mapping):
            found |= {key if isinstance(key, str) else repr(bytes(key))[2:-1]
                      for key in value.values() if isinstance(key, (str, bytes))}
    return frozenset(found)


def _forms(secret: str) -> set[str]:
    """How ``secret`` can appear in a message."""
    forms = {secret, unquote(secret), unquote_plus(secret), quote(secret, safe=""),
             quote(secret), quote_plus(secret, safe=""), repr(secret)[1:-1],
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             secret.encode("unicode_escape").decode("ascii")}
    return {form for form in forms if form}


class Secret(str):
    """A secret where code needs its value (a client's password), masked in its ``repr``.

    Equal to, and usable as, the plain string; but ``repr()`` (and so the repr of a
    dict or an object holding it, a log line formatting it with ``%r``, an error
    message using ``!r``) shows :data:`MASK`::

        >>> password = Secret("hunter22")
        >>> password == "hunter22", repr(password), repr({"password": password})
        (True, "'**'", "{'password': '**'}")
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


def secret_values(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``options`` whose secret-named string values are :class:`Secret` s.

    >>> secret_values({"authSource": "admin", "tlsCertificateKeyFilePassword": "pw"})
    {'authSource': 'admin', 'tlsCertificateKeyFilePassword': '**'}
    """
    return {name: Secret(value) if isinstance(value, str) and _is_secret_name(str(name))
            else value for name, value in options.items()}


class Masker:
    """Masks a fixed set of secrets (plus every URL password) in any text.

    >>> Masker(["s3cr3t;@/#?"])("auth failed for s3cr3t%3B%40%2F%23%3F")
    'auth failed for **'
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= _forms(str(secret))
        self.secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return mask_text(text, (), _sorted=self.secrets)

    def __repr__(self) -> str:
        return f"<Masker of {len(self.secrets)} secret form(s)>"


def mask_text(text: str, secrets: Iterable[str | None] = (), *,
              _sorted: list[str] | None = None) -> str:
    """``text`` with each URL's password and each known secret replaced by :data:`MASK`."""
    if _sorted is None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= _forms(str(secret))
        _sorted = sorted(forms, key=len, reverse=True)
    for secret in _sorted:
        if len(secret) >= MIN_FREE_TEXT:
            text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(lambda match: mask_url(match[0]), text)
