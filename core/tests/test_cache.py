from resultstore.cache import ResultCache


def test_lru_evicts_least_recently_used():
    cache = ResultCache(2)
    cache.put("a", {"status": "SUCCESS"})
    cache.put("b", {"status": "SUCCESS"})
    cache.get("a")
    cache.put("c", {"status": "SUCCESS"})
    assert "a" in cache and "c" in cache and "b" not in cache


def test_minus_one_disables_and_zero_is_unbounded():
    off = ResultCache(-1)
    off.put("a", {})
    assert off.get("a") is None and len(off) == 0
    unbounded = ResultCache(0)
    for i in range(1000):
        unbounded.put(str(i), {})
    assert len(unbounded) == 1000
