"""Two workers finishing the same job at once: exactly one wins, on every backend."""

from __future__ import annotations

import json
import threading

from models.db import Database
from models.jobs import claim, create_job, finish, get_job
from notary.jobs import JobState

ROUNDS = 20
BARRIER_TIMEOUT = 60  # only a guard against a hung test; outcomes never depend on timing


def race_finish(database: Database, job_id: str) -> dict[int, bool]:
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    outcomes: dict[int, bool] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            with database.transaction() as session:
                get_job(session, job_id)  # both may have seen it running before either updates it
                outcomes[index] = finish(session, job_id, JobState.SUCCEEDED, result={"winner": index})
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * BARRIER_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    if errors:
        raise errors[0]
    return outcomes


def test_exactly_one_of_two_racing_finishes_wins(database: Database) -> None:
    for _ in range(ROUNDS):
        with database.transaction() as session:
            job_id = create_job(session, "sign", {}).id
            assert claim(session, job_id)

        outcomes = race_finish(database, job_id)

        assert sorted(outcomes.values()) == [False, True], outcomes
        winner = next(index for index, won in outcomes.items() if won)
        with database.read() as session:
            job = get_job(session, job_id)
        assert job is not None
        assert job.state == "succeeded"
        assert json.loads(job.result or "null") == {"winner": winner}
