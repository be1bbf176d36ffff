"""A batch: one invocation's scenarios, run into one folder. ``run``, ``soak``, ``validate``
and a pytest session each make one ``Batch``; it owns the folder, the fork server our
Python servers start from, each worker's pool of environments and the results, in the
order the scenarios were given.

    with Batch(folder, settings, cleanup, meta={"batch_id": ...}, workers=2) as batch:
        batch.run(scenarios)          # results.json rewritten after each scenario
    batch.publish()                   # results.json and the HTML report
    batch.point_latest(folder.parent)

Scenarios run on ``workers`` threads side by side (``run_batch``). Each worker keeps its
own pool of environments (a process dies with the thread that started it, so pools are
never shared) and takes the next scenario when it is done with one.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness.env.cleanup import Cleanup
from harness.env.forkserver import ForkServer
from harness.report.publish import write_results
from harness.results.batch import BatchResults
from harness.results.schema import ScenarioResult
from harness.runner.pool import EnvironmentPool
from harness.runner.scenario import Scenario, run_scenario
from harness.settings import Settings

RunOne = Callable[[Scenario, EnvironmentPool], ScenarioResult]
OnResult = Callable[[int, ScenarioResult], None]


class Batch:
    """One batch: ``folder`` holds every scenario's run folder, ``forkserver.log`` and
    (unless ``environments`` names another place) the workers' environments. ``meta`` is
    written into results.json as it is when the batch saves. ``save_each``: rewrite
    results.json after every scenario, so an interrupted batch keeps what it measured."""

    def __init__(
        self,
        folder: Path,
        settings: Settings,
        cleanup: Cleanup,
        *,
        meta: dict[str, Any] | None = None,
        workers: int = 1,
        reuse: bool = True,
        environments: Path | None = None,
        save_each: bool = True,
    ) -> None:
        self.folder = Path(folder)
        self.settings, self.cleanup = settings, cleanup
        self.meta: dict[str, Any] = meta if meta is not None else {}
        self.workers, self.reuse, self.save_each = max(1, workers), reuse, save_each
        self.environments = environments if environments is not None else self.folder / "environments"
        self.results: list[ScenarioResult] = []
        self.launcher: ForkServer | None = None
        self._stack = ExitStack()

    def __enter__(self) -> "Batch":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.launcher = self._stack.enter_context(ForkServer(self.cleanup, log_path=self.folder / "forkserver.log"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def pool(self, worker: int, settings: Settings | None = None) -> EnvironmentPool:
        """Worker ``worker``'s pool of environments (its own: see the module's docstring)."""
        return EnvironmentPool(self.environments / f"worker-{worker}", settings or self.settings, self.cleanup,
                               reuse=self.reuse, launcher=self.launcher)

    def run(
        self,
        scenarios: Sequence[Scenario],
        *,
        run_one: RunOne | None = None,
        on_result: OnResult | None = None,
        settings: Settings | None = None,
    ) -> list[ScenarioResult]:
        """Run ``scenarios`` on the batch's workers and return their results in the order
        given (also added to ``results``). ``run_one(scenario, pool)`` runs one (default:
        ``run_scenario`` into the batch's folder, with ``settings`` or the batch's);
        ``on_result(index, result)`` sees each result, never from two threads at once,
        before it is kept. Ctrl-C stops the workers taking new scenarios and propagates;
        the results so far are kept."""
        settings = settings or self.settings
        if run_one is None:
            def run_one(scenario: Scenario, pool: EnvironmentPool) -> ScenarioResult:
                return run_scenario(scenario, self.folder, settings=settings, cleanup=self.cleanup, pool=pool)

        done: dict[int, ScenarioResult] = {}
        before = list(self.results)

        def keep(index: int, result: ScenarioResult) -> None:
            if on_result is not None:
                on_result(index, result)
            done[index] = result
            self.results = before + [done[i] for i in sorted(done)]  # the given order, whatever finished first
            if self.save_each:
                self.save()

        run_batch(scenarios, workers=self.workers, new_pool=lambda worker: self.pool(worker, settings),
                  run_one=run_one, on_result=keep)
        return [done[i] for i in sorted(done)]

    def record(self, result: ScenarioResult) -> ScenarioResult:
        """Keep a result run elsewhere (a pytest test's own ``LiveRun``)."""
        self.results.append(result)
        return result

    def save(self, folder: Path | None = None, *, validation: dict[str, Any] | None = None) -> Path:
        """Write ``results.json`` (into ``folder``, default the batch's), secrets redacted."""
        return BatchResults(self.meta, list(self.results), validation=validation).write(folder or self.folder)

    def publish(self, folder: Path | None = None, *, validation: dict[str, Any] | None = None) -> Path:
        """Write ``results.json`` and the HTML report from it (into ``folder``, default the
        batch's); the report's trend reads the batches beside it. Returns results.json."""
        return write_results(list(self.results), Path(folder or self.folder), self.meta, validation=validation)

    def point_latest(self, out_root: Path) -> Path:
        """``out_root/latest`` made a link to this batch's folder (when it exists)."""
        latest = Path(out_root) / "latest"
        if latest.is_symlink() or latest.is_file():
            latest.unlink()
        elif latest.is_dir():
            shutil.rmtree(latest)
        if self.folder.exists():
            latest.symlink_to(self.folder.name)
        return latest


def run_batch(
    scenarios: Sequence[Scenario],
    *,
    workers: int,
    new_pool: Callable[[int], EnvironmentPool],
    run_one: RunOne,
    on_result: OnResult,
) -> None:
    """Run every scenario; ``on_result(index, result)`` is called once per scenario, never
    from two threads at once. ``new_pool(worker)`` makes a worker's pool. With one worker
    everything happens in this thread. Ctrl-C stops the workers taking new scenarios."""
    if workers <= 1 or len(scenarios) <= 1:
        with new_pool(0) as pool:
            for index, scenario in enumerate(scenarios):
                on_result(index, run_one(scenario, pool))
        return
    queue = list(enumerate(scenarios))
    lock = threading.Lock()
    stop = threading.Event()

    def take() -> tuple[int, Scenario] | None:
        with lock:
            return queue.pop(0) if queue and not stop.is_set() else None

    def work(worker: int) -> None:
        with new_pool(worker) as pool:
            while (item := take()) is not None:
                result = run_one(item[1], pool)
                with lock:
                    if not stop.is_set():
                        on_result(item[0], result)

    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scenarios")
    futures = [executor.submit(work, n) for n in range(min(workers, len(scenarios)))]
    try:
        wait(futures)
    except BaseException:  # Ctrl-C: finish nothing new; the batch's Cleanup stops the processes
        stop.set()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()
    for future in futures:
        future.result()  # a harness bug in a worker surfaces here


__all__ = ["Batch", "run_batch"]
