"""A receiver fleet on one PostgreSQL database, over real processes and a real server: endpoint
processes sharing one port store, worker processes claim (``FOR UPDATE SKIP LOCKED``) and apply;
a worker and an endpoint are killed with SIGKILL mid-load. Nothing is lost, nothing is fulfilled
twice, and A's view equals B's."""

from __future__ import annotations

import pytest

from hooklab.lab.fleet import fleet_scaling, fleet_under_fire


@pytest.mark.slow
def test_a_fleet_loses_nothing_and_fulfils_once_with_a_worker_and_an_endpoint_killed(postgres_cluster):
    result = fleet_under_fire(2000, cluster=postgres_cluster)
    print(f"\n{result}")
    assert result["events"] == 2000  # each of B's events processed once ...
    assert result["sent_again"] > 1000  # ... though many came twice or more, at the same time
    assert result["lost"] == 0 and result["unfulfilled"] == 0 and result["fulfilled_twice"] == 0
    assert result["a_equals_b"]


@pytest.mark.slow
def test_workers_share_the_inbox_each_event_once(postgres_cluster):
    """Behaviour, not speed (benchmarks/bench_fleet.py times it): two workers drain one inbox
    and every event is applied once."""
    table = fleet_scaling((2,), events=200, work_s=0.005, cluster=postgres_cluster)
    assert table.loc[2, "fulfilled_twice"] == 0 and table.loc[2, "events"] == 200


def test_the_worker_command_needs_a_postgresql_database(tmp_path):
    from hooklab.cli import main

    assert main(["worker", "--db", str(tmp_path / "a.db")]) == 2


def test_a_postgresql_database_that_does_not_answer_is_a_sentence_not_a_traceback(tmp_path, capsys):
    from hooklab.cli import main

    url = f"postgresql://nobody@/x?host={tmp_path}&port=1"
    assert main(["consumer", "--provider", "http://127.0.0.1:9", "--mode", "webhook", "--db", url]) == 1
    assert "cannot reach PostgreSQL" in capsys.readouterr().err
