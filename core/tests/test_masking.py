"""resultstore.masking: the one masking function every plugin and the CLI use (issue 14, item 10)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from resultstore.masking import (
    MASK,
    Masker,
    mask_text,
    mask_url,
    settings_secrets,
    split_urls,
    url_password,
    url_secrets,
)

NASTY = ["p;w@x/y#z?q", "pa%ss:w rd", "pässwörd€✓", "a:b@c", "q'\"\\x", "sem;colon", "h#sh?q"]


@pytest.mark.parametrize("password", NASTY)
@pytest.mark.parametrize("template", [
    "redis://:{}@host:6379/0", "redis://user:{}@host/0?x=1", "rediss://u:{}@h:1/0?ssl_cert_reqs=none",
    "sentinel://:{}@h1:1;sentinel://:{}@h2:2", "rediscluster://:{}@h1:1;rediscluster://:{}@h2:2",
    "db+postgresql://u:{}@h/db", "amqp://guest:{}@localhost:5672//", "dynamodb://KEY:{}@us-east-1/t",
])
@pytest.mark.parametrize("encode", [False, True], ids=["raw", "percent-encoded"])
def test_mask_url_hides_every_nasty_password(template: str, password: str, encode: bool) -> None:
    written = quote(password, safe="") if encode else password
    url = template.replace("{}", written)
    masked = mask_url(url)
    assert written not in masked and password not in masked, masked
    assert masked.count(MASK) == template.count("{}")
    assert mask_text(f"failed: {url!r} ({written})", url_secrets(url)).count(written) == 0


def test_structure_survives_masking() -> None:
    assert mask_url("redis://user:p@ss/w#rd@host:6379/0") == "redis://user:**@host:6379/0"
    assert mask_url("sentinel://:s;cret@h1:26379;sentinel://:s;cret@h2:26379") == (
        "sentinel://:**@h1:26379;sentinel://:**@h2:26379")
    assert mask_url("redis://host:6379/0") == "redis://host:6379/0"
    assert mask_url("redis://user@host/0") == "redis://user@host/0"
    assert mask_url("file:///var/results") == "file:///var/results"
    assert mask_url("rediss://h/0?ssl_keyfile=/k.pem&password=pw12") == "rediss://h/0?ssl_keyfile=/k.pem&password=**"
    assert mask_url("s3://bucket?aws_secret_access_key=abc") == "s3://bucket?aws_secret_access_key=**"


def test_connection_strings() -> None:
    conn = ("azureblockblob://DefaultEndpointsProtocol=http;AccountName=a;AccountKey=Eby8/+==;"
            "BlobEndpoint=http://127.0.0.1:10000/a;")
    assert mask_url(conn) == ("azureblockblob://DefaultEndpointsProtocol=http;AccountName=a;"
                              "AccountKey=**;BlobEndpoint=http://127.0.0.1:10000/a;")
    sas = "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2020&sig=SECRET%3D"
    assert mask_url(sas) == "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=**"
    assert mask_url("BlobEndpoint=https://a/?sv=1&sig=SECRET&se=2") == "BlobEndpoint=https://a/?sv=1&sig=**&se=2"


def test_one_letter_password_does_not_eat_the_message() -> None:
    """The bug of issue 14: a masking pass replaced every letter "p" of a message."""
    url = "redis://:p@localhost:6379/0"
    text = mask_text(f"cannot open {url}: please provide a proper password", url_secrets(url))
    assert text == "cannot open redis://:**@localhost:6379/0: please provide a proper password"
    assert Masker(["p"])("please") == "please"


def test_known_secrets_are_masked_in_every_form() -> None:
    secret = "s3cr;t@/#?ü'"
    masker = Masker([secret])
    for form in (secret, quote(secret, safe=""), quote(secret), repr(secret)[1:-1],
                 secret.encode("unicode_escape").decode()):
        assert masker(f"error near {form} here") == "error near ** here", form
    assert "s3cr" not in masker(repr(ValueError(secret)))


def test_split_and_password() -> None:
    assert split_urls("sentinel://:a;b@h1:1;sentinel://h2:2") == ["sentinel://:a;b@h1:1", "sentinel://h2:2"]
    assert url_password("redis://:pa#ss@host/0") == "pa#ss"
    assert url_password("redis://host/0") is None
    assert url_password("redis://user@host/0") is None


def test_settings_secrets() -> None:
    found = settings_secrets({"redis_password": "pw1", "s3_secret_access_key": "k2",
                              "broker_url": "amqp://u:pw3@h//", "ssl_keyfile": "/k.pem",
                              "global_keyprefix": "x", "resultstore_signing_key": "sk4",
                              "redis_backend_credential_provider": "mod:Cls"})
    assert found == {"pw1", "k2", "pw3", "sk4"}


def test_secret_is_the_value_but_masked_in_reprs() -> None:
    from resultstore.masking import Secret, secret_values

    password = Secret("hunter22")
    assert password == "hunter22" and f"{password}" == "hunter22" and str(password) == "hunter22"
    assert "hunter22" not in repr(password) and "hunter22" not in repr({"p": password})
    options = secret_values({"authSource": "admin", "tlsCertificateKeyFilePassword": "pw-123",
                             "maxPoolSize": 5})
    assert options == {"authSource": "admin", "tlsCertificateKeyFilePassword": "pw-123",
                       "maxPoolSize": 5}
    assert "pw-123" not in repr(options) and "admin" in repr(options)
