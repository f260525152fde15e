"""The conformance kit against Elasticsearch (the stand-in here, a real server when
``RESULTSTORE_TEST_ELASTICSEARCH_URL`` is set), in both of Celery's document modes."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestElasticsearch(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, open_es: MakeBackend, es_url: str) -> MakeBackend:
        return functools.partial(open_es, es_url)


class TestElasticsearchMetaAsObject(ConformanceSuite):
    """``elasticsearch_save_meta_as_text=False``: the meta stored as an object."""

    @pytest.fixture
    def make_backend(self, open_es: MakeBackend, es_url: str) -> MakeBackend:
        return functools.partial(open_es, es_url + "-object", elasticsearch_save_meta_as_text=False)
