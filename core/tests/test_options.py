"""resultstore.options: the URL/settings option readers plugins share (their messages are the
plugins' own, so they are pinned here word for word)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from resultstore.errors import ImproperlyConfigured
from resultstore.options import flag, positive_number, query_options, url_port


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("Yes", True),
                                                 (" on ", True), ("1", True), ("OFF", False),
                                                 ("0", False), ("no", False)])
def test_flag_reads_bools_and_words(value: object, expected: bool) -> None:
    assert flag("demo", "ssl", value) is expected


def test_flag_refuses_other_words() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^demo ssl must be true or false, got 'maybe'$"):
        flag("demo", "ssl", "maybe")


def test_positive_number_converts_and_refuses() -> None:
    assert positive_number("demo", "timeout", "2.5", float) == 2.5
    assert positive_number("demo", "max_connections", "7", int) == 7
    with pytest.raises(ImproperlyConfigured, match=r"^demo timeout must be a number, got 'x'$"):
        positive_number("demo", "timeout", "x", float)
    with pytest.raises(ImproperlyConfigured, match=r"^demo max_connections must be a number, got '1.5'$"):
        positive_number("demo", "max_connections", "1.5", int)
    with pytest.raises(ImproperlyConfigured, match=r"^demo timeout must be positive, got '0'$"):
        positive_number("demo", "timeout", "0", float)


def test_url_port() -> None:
    assert url_port("demo", urlsplit("http://h:81/x")) == 81
    assert url_port("demo", urlsplit("http://h/x")) is None
    with pytest.raises(ImproperlyConfigured, match=r"^demo URL: the port must be a number\.$"):
        url_port("demo", urlsplit("http://h:port/x"))


def test_query_options_url_wins_and_unknown_is_refused() -> None:
    options = {"ssl": None, "timeout": 5}
    assert query_options("demo", "timeout=9", ("ssl", "timeout"), options) == {"ssl": None,
                                                                             "timeout": "9"}
    with pytest.raises(ImproperlyConfigured,
                       match=r"^Unknown demo:// URL option 'tls': options are ssl, timeout\.$"):
        query_options("demo", "tls=1", ("ssl", "timeout"), options)
