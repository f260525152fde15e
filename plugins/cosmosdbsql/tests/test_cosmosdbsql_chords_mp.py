"""100 chords x 10 parts from 4 processes, 10% of the parts delivered twice (as a broker
redelivers): every chord completes exactly once, with its parts in order.

Real processes, real HTTP: each process has its own client; they meet only in the server
(the stand-in here, a real server when ``RESULTSTORE_TEST_COSMOSDBSQL_URL`` is set).
"""

from __future__ import annotations

from typing import Any

from resultstore.testing.races import chords_complete_once_across_processes


def test_chords_exactly_once_from_4_processes_with_redelivered_parts(
        cosmos_url: str, cosmos_settings: dict[str, Any]) -> None:
    settings = {**cosmos_settings, "cosmosdbsql_collection_name": "mp"}
    chords_complete_once_across_processes(cosmos_url, settings, chords=100, size=10, processes=4,
                                          duplicated=0.10)
