"""The background job base: outcomes, throttled progress, cancel, pause/resume, lifetime, shutdown."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

from crate_app.domain.progress import Progress
from crate_app.services.jobs import FunctionJob, Job, JobRunner, JobState


class Counter(Job):
    """Counts to ``n``, one item every ``delay`` seconds, honouring pause and cancel between items."""

    def __init__(self, n: int, delay: float = 0.0, raise_on_cancel: bool = False) -> None:
        super().__init__("Counting")
        self.n, self.delay, self.raise_on_cancel = n, delay, raise_on_cancel
        self.done = 0
        self.started = threading.Event()

    def work(self) -> int:
        meter = self.meter(total=self.n)
        self.started.set()
        for _ in range(self.n):
            if self.raise_on_cancel:
                self.check()
            elif self.should_stop():
                break
            if self.delay:
                time.sleep(self.delay)
            self.done += 1
            meter.update(advance=1, current=f"item {self.done}")
        meter.finish()
        return self.done


@pytest.fixture
def runner(qtbot):
    runner = JobRunner(max_threads=2)
    yield runner
    assert runner.shutdown(5000)


def test_finished_carries_the_result_and_progress_is_throttled(qtbot, runner: JobRunner) -> None:
    job = Counter(3000, delay=0.0001)  # ~0.3-0.6 s of work, 3000 progress updates
    received: list[Progress] = []
    job.signals.progress.connect(received.append)
    with qtbot.waitSignal(job.signals.finished, timeout=10_000) as finished:
        runner.start(job)
    assert finished.args == [3000]
    assert job.state is JobState.FINISHED
    assert 1 <= len(received) <= 40  # ~10 Hz, not one signal per item
    assert received[-1].done == 3000 and received[-1].total == 3000  # the final snapshot always arrives


def test_cancel_stops_between_items_with_a_partial_result(qtbot, runner: JobRunner) -> None:
    job = Counter(10_000, delay=0.001)
    runner.start(job)
    assert job.started.wait(5)
    with qtbot.waitSignal(job.signals.finished, timeout=5000) as finished:
        job.cancel()
    assert 0 < finished.args[0] < 10_000


def test_check_raises_and_the_job_ends_cancelled(qtbot, runner: JobRunner) -> None:
    job = Counter(10_000, delay=0.001, raise_on_cancel=True)
    runner.start(job)
    assert job.started.wait(5)
    with qtbot.waitSignals([job.signals.cancelled, job.signals.ended], timeout=5000):
        job.cancel()
    assert job.state is JobState.CANCELLED


def test_pause_holds_the_job_and_resume_continues(qtbot, runner: JobRunner) -> None:
    job = Counter(400, delay=0.002)
    states: list[JobState] = []
    job.signals.state_changed.connect(states.append)
    runner.start(job)
    assert job.started.wait(5)
    job.pause()
    time.sleep(0.05)
    held = job.done
    time.sleep(0.2)
    assert job.done == held < 400  # nothing moves while paused
    with qtbot.waitSignal(job.signals.finished, timeout=10_000) as finished:
        job.resume()
    assert finished.args == [400]
    qtbot.waitUntil(lambda: JobState.FINISHED in states)
    assert JobState.PAUSED in states and states[-1] is JobState.FINISHED
    assert not job.is_paused


def test_cancel_wakes_a_paused_job(qtbot, runner: JobRunner) -> None:
    job = Counter(1000, delay=0.001)
    runner.start(job)
    assert job.started.wait(5)
    job.pause()
    with qtbot.waitSignal(job.signals.ended, timeout=3000):
        job.cancel()


def test_an_exception_becomes_failed_with_its_message(qtbot, runner: JobRunner) -> None:
    def broken(job: Job) -> None:
        raise OSError("the disk went away")

    job = FunctionJob(broken)
    with qtbot.waitSignal(job.signals.failed, timeout=5000) as failed:
        runner.start(job)
    assert failed.args == ["the disk went away"]
    assert job.state is JobState.FAILED


def test_the_runner_keeps_jobs_alive_and_reports_busy(qtbot, runner: JobRunner) -> None:
    results: list[object] = []
    busy: list[bool] = []
    runner.busy_changed.connect(busy.append)
    for n in range(5):
        runner.start(FunctionJob(lambda job, n=n: (time.sleep(0.02), n)[1])).signals.finished.connect(
            results.append
        )
    gc.collect()  # no reference kept here: the runner must keep them
    qtbot.waitUntil(lambda: len(results) == 5, timeout=5000)
    qtbot.waitUntil(lambda: not runner.is_busy, timeout=5000)
    assert sorted(results) == [0, 1, 2, 3, 4]
    assert busy == [True, False]


def test_ended_jobs_are_freed(qtbot, runner: JobRunner) -> None:
    """Browsing starts a few jobs per row (covers, table pages): none may outlive its end, or memory
    grows with every track looked at (the pool kept every QRunnable it was given)."""
    alive: list[weakref.ref] = []
    for n in range(20):
        job = FunctionJob(lambda _job, n=n: n)
        alive.append(weakref.ref(job))
        runner.start(job)
        del job
    qtbot.waitUntil(lambda: not runner.is_busy, timeout=5000)
    qtbot.waitUntil(lambda: (gc.collect(), sum(ref() is not None for ref in alive))[1] == 0, timeout=5000)


def test_shutdown_cancels_and_waits(qtbot) -> None:
    runner = JobRunner(max_threads=1)
    jobs = [runner.start(Counter(100_000, delay=0.001)) for _ in range(3)]
    assert jobs[0].started.wait(5)
    started = time.monotonic()
    assert runner.shutdown(5000)
    assert time.monotonic() - started < 2
    assert jobs[0].done < 100_000
    assert all(job.state in (JobState.FINISHED, JobState.CANCELLED) for job in jobs)


def test_a_closed_runner_refuses_new_jobs_but_shutdown_alone_does_not(qtbot) -> None:
    runner = JobRunner(max_threads=1)
    runner.shutdown(5000)
    again = runner.start(Counter(3))
    assert runner.wait(5000) and again.done == 3  # shutdown (e.g. switching libraries) is not the end
    qtbot.waitUntil(lambda: not runner.is_busy, timeout=5000)
    assert runner.close(5000) and runner.is_closed
    late = Counter(3)
    ended: list[object] = []
    late.signals.ended.connect(ended.append)
    assert runner.start(late) is late
    assert runner.wait(5000)
    qtbot.wait(50)  # any queued signal would be delivered now
    assert not late.started.is_set() and late.done == 0
    assert late.is_cancelled and not runner.is_busy and ended == []


def test_release_free_memory_does_not_fail() -> None:
    import sys

    from crate_app.services.memory import release_free_memory

    assert release_free_memory() is sys.platform.startswith("linux")


def test_jobs_that_read_the_library_leave_no_connection_open(qtbot, runner: JobRunner, tmp_path) -> None:
    # Qt's pool threads drop their Python thread state after each job; each job's connection must be
    # closed with it, not left (with its page cache) for the cyclic collector.
    from crate_app.store.library import open_library

    library = open_library(tmp_path / "lib.sqlite")
    connections = []

    def read(job: Job) -> int:
        connections.append(library.db.connection())
        return library.count()

    gc.disable()
    try:
        for _ in range(6):
            job = FunctionJob(read)
            with qtbot.waitSignal(job.signals.ended, timeout=5000):
                runner.start(job)
        assert runner.wait(5000)

        def still_open(conn) -> bool:
            try:
                conn.execute("SELECT 1")
            except Exception:
                return False
            return True

        # At most the connections of the pool's threads that still have their state (max_threads=2).
        assert len(connections) == 6 and sum(map(still_open, connections)) <= 2
    finally:
        gc.enable()
    library.close()
