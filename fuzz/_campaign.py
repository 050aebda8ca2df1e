"""A campaign: mutated seeds rendered by a pool of workers, outcomes tallied, findings saved.

Run ``n`` of a campaign with seed ``S`` is drawn from a generator seeded with ``"S:n"`` alone
(which seed, then which mutations): the same ``--seed`` gives the same inputs however many
workers share them and whatever order they finish in. Before the mutated runs, every seed is
rendered once as it is: a seed the engine cannot render would make its mutants test nothing
but the error path, so that is reported too.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _findings import FindingStore
from _format_mutations import FORMAT_MUTATIONS
from _mutations import Donors, mutate
from _outcomes import OK, Finding, Outcome
from _runner import Worker, WorkerError, WorkerSettings
from _seeds import LoadedSeed

__all__ = ["Corpus", "Reported", "Settings", "Tally", "run_campaign"]


class Corpus:
    """The loaded seeds, and the input of any run of a campaign."""

    def __init__(self, seeds: Sequence[LoadedSeed]) -> None:
        if not seeds:
            raise ValueError("a corpus needs at least one seed")
        self.seeds = list(seeds)
        self._weights = [s.seed.weight for s in self.seeds]
        every = [s.data for s in self.seeds]
        self._donors = {
            s.seed.name: Donors(
                same_format=[o.data for o in self.seeds if o.seed.ext == s.seed.ext and o is not s],
                any_format=every,
            )
            for s in self.seeds
        }

    def input(self, campaign_seed: int, run: int) -> tuple[LoadedSeed, bytes]:
        """The seed run ``run`` of campaign ``campaign_seed`` starts from, and its input."""
        rng = random.Random(f"{campaign_seed}:{run}")
        seed = rng.choices(self.seeds, weights=self._weights)[0]
        structural = FORMAT_MUTATIONS.get(seed.seed.family)
        return seed, mutate(rng, seed.data, self._donors[seed.seed.name], structural)


@dataclass(frozen=True)
class Settings:
    """What a campaign runs, and for how long."""

    seed: int  # of the mutation sequence
    runs: int | None  # this many mutated inputs, or
    seconds: float | None  # as many as fit in this time
    workers: int
    worker: WorkerSettings


@dataclass
class Reported:
    """A finding met in this campaign: where its input is saved and how often it came up."""

    finding: Finding
    message: str
    path: Path
    new: bool  # not in the findings folder before this campaign
    count: int = 0


@dataclass
class Tally:
    """Everything a campaign found out."""

    outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # seed -> status -> runs
    findings: dict[str, Reported] = field(default_factory=dict)  # signature -> finding
    unrendered_seeds: dict[str, Outcome] = field(default_factory=dict)  # seed -> not ok outcome
    seconds: float = 0.0

    @property
    def runs(self) -> int:
        """Mutated inputs rendered."""
        return sum(sum(counts.values()) for counts in self.outcomes.values())


class _Jobs:
    """Hands out the work: each seed once as it is, then runs until the count or time is up."""

    def __init__(self, corpus: Corpus, settings: Settings, stop: threading.Event) -> None:
        self._unmutated = list(corpus.seeds)
        self._next_run = 0
        self._runs = settings.runs
        self._deadline = None if settings.seconds is None else time.monotonic() + settings.seconds
        self._stop = stop
        self._lock = threading.Lock()

    def take(self) -> LoadedSeed | int | None:
        """An unmutated seed, the number of the next run, or ``None`` when all is done."""
        with self._lock:
            if self._stop.is_set():
                return None
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return None
            if self._unmutated:
                return self._unmutated.pop(0)
            if self._runs is not None and self._next_run >= self._runs:
                return None
            self._next_run += 1
            return self._next_run - 1


def run_campaign(
    corpus: Corpus,
    settings: Settings,
    store: FindingStore,
    on_progress: Callable[[Tally], None] | None = None,
    on_finding: Callable[[Reported], None] | None = None,
    progress_every: float = 30.0,
) -> Tally:
    """Run the campaign; Ctrl-C ends it early with what it has.

    ``on_progress`` gets the tally every ``progress_every`` seconds, ``on_finding`` each
    signature the first time this campaign meets it. Raises :class:`WorkerError` when a
    worker process cannot start.
    """
    tally = Tally(outcomes={s.seed.name: Counter() for s in corpus.seeds})
    stop = threading.Event()
    jobs = _Jobs(corpus, settings, stop)
    lock = threading.Lock()
    errors: list[WorkerError] = []
    started = time.monotonic()

    def record(seed: LoadedSeed, data: bytes, run: int | None, outcome: Outcome) -> None:
        finding = outcome.finding
        saved = None
        if finding is not None:
            origin = {"seed": seed.seed.name, "run": run, "campaign_seed": settings.seed}
            saved = store.save(outcome, data, seed.seed.ext, origin)
        with lock:
            if run is None:
                if outcome.status != OK:
                    tally.unrendered_seeds[seed.seed.name] = outcome
            else:
                tally.outcomes[seed.seed.name][outcome.status] += 1
            if finding is None or saved is None:
                return
            reported = tally.findings.get(finding.signature)
            if reported is None:
                reported = Reported(finding, outcome.message, saved.path, saved.new)
                tally.findings[finding.signature] = reported
                if on_finding is not None:
                    on_finding(reported)
            reported.count += 1

    def serve(worker: Worker) -> None:
        try:
            while (job := jobs.take()) is not None:
                if isinstance(job, int):
                    run: int | None = job
                    seed, data = corpus.input(settings.seed, job)
                else:
                    run, seed, data = None, job, job.data
                outcome = worker.render(data)
                if stop.is_set():
                    return  # interrupted: the worker was killed under this render
                record(seed, data, run, outcome)
        except WorkerError as exc:
            errors.append(exc)
            stop.set()
        finally:
            worker.close()

    with tempfile.TemporaryDirectory(prefix="render-fuzz-") as scratch:
        workers = [
            Worker(Path(scratch), f"worker{i}", settings.worker) for i in range(settings.workers)
        ]
        threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        next_report = started + progress_every
        try:
            while alive := [t for t in threads if t.is_alive()]:
                alive[0].join(timeout=0.5)
                if on_progress is not None and time.monotonic() >= next_report:
                    next_report += progress_every
                    with lock:  # the workers' threads update the counts
                        tally.seconds = time.monotonic() - started
                        on_progress(tally)
        except KeyboardInterrupt:
            stop.set()
            for worker in workers:
                worker.interrupt()
            for thread in threads:
                thread.join()
    tally.seconds = time.monotonic() - started
    if errors:
        raise errors[0]
    return tally
