from resultstore import states


def test_sets_match_celery() -> None:
    from celery import states as cs

    assert states.READY_STATES == cs.READY_STATES
    assert states.UNREADY_STATES == cs.UNREADY_STATES
    assert states.EXCEPTION_STATES == cs.EXCEPTION_STATES
    assert states.PROPAGATE_STATES == cs.PROPAGATE_STATES


def test_precedence_matches_celery() -> None:
    from celery import states as cs

    names = ["SUCCESS", "FAILURE", "REVOKED", "STARTED", "RECEIVED", "REJECTED", "RETRY",
             "PENDING", "CUSTOM"]
    for a in names:
        assert states.precedence(a) == cs.precedence(a)
        for b in names:
            assert (states.State(a) > states.State(b)) == (cs.state(a) > cs.state(b))
