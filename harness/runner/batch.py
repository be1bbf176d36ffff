"""Running a list of scenarios, on ``workers`` threads side by side. Each worker keeps its
own pool of environments (a process dies with the thread that started it, so pools are
never shared) and takes the next scenario when it is done with one. Results are handed
back as they come, with each scenario's place in the list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

from harness.results.schema import ScenarioResult
from harness.runner.pool import EnvironmentPool
from harness.runner.scenario import Scenario

RunOne = Callable[[Scenario, EnvironmentPool], ScenarioResult]


def run_batch(
    scenarios: Sequence[Scenario],
    *,
    workers: int,
    new_pool: Callable[[int], EnvironmentPool],
    run_one: RunOne,
    on_result: Callable[[int, ScenarioResult], None],
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
    except BaseException:  # Ctrl-C: finish nothing new; the run's Cleanup stops the processes
        stop.set()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()
    for future in futures:
        future.result()  # a harness bug in a worker surfaces here


__all__ = ["run_batch"]
