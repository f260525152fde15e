"""200 chords x 10 parts from 8 processes, 5% of the parts delivered twice (as a broker
redelivers): every chord completes exactly once, with its parts in order.

Real processes, real HTTP: each process has its own client; they meet only in the server
(the stand-in here, a real server when ``RESULTSTORE_TEST_ELASTICSEARCH_URL`` is set).
"""

from __future__ import annotations

from resultstore.testing.races import chords_complete_once_across_processes


def test_chords_exactly_once_from_8_processes_with_redelivered_parts(es_url: str) -> None:
    chords_complete_once_across_processes(f"{es_url}-mp", chords=200, size=10, processes=8,
                                          duplicated=0.05)
