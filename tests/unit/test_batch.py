"""Running scenarios on workers: every scenario once, results by place, each worker with its
own pool (made and closed in its own thread); a batch keeping them in order in its folder;
and a pool's log slices."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.results.schema import ScenarioResult
from harness.runner.batch import Batch, run_batch
from harness.runner.pool import _copy_slices, _sizes
from harness.settings import Settings


class FakePool:
    def __init__(self, worker: int, log: list[tuple[str, int, str]]) -> None:
        self.worker, self.log = worker, log

    def __enter__(self) -> "FakePool":
        self.log.append(("open", self.worker, threading.current_thread().name))
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.append(("close", self.worker, threading.current_thread().name))


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_scenario_runs_once_and_comes_back_in_its_place(workers: int) -> None:
    scenarios = [Named(f"s{i}") for i in range(7)]
    pools: list[tuple[str, int, str]] = []
    ran: list[tuple[str, int]] = []
    results: dict[int, ScenarioResult] = {}

    def run_one(scenario, pool):  # type: ignore[no-untyped-def]
        ran.append((scenario.name, pool.worker))
        time.sleep(0.01 * (len(scenario.name) % 3))
        return ScenarioResult(name=scenario.name, agent="a", verdict="pass")

    def on_result(index: int, result: ScenarioResult) -> None:
        assert index not in results
        results[index] = result

    run_batch(scenarios, workers=workers, new_pool=lambda w: FakePool(w, pools), run_one=run_one,  # type: ignore[arg-type]
              on_result=on_result)
    assert [results[i].name for i in range(7)] == [s.name for s in scenarios]
    assert sorted(name for name, _ in ran) == sorted(s.name for s in scenarios)
    assert {worker for _, worker in ran} <= set(range(workers))
    # A pool is opened and closed by the same thread: its processes die with that thread.
    opened = {worker: thread for kind, worker, thread in pools if kind == "open"}
    closed = {worker: thread for kind, worker, thread in pools if kind == "close"}
    assert opened == closed and len(opened) == min(workers, 7)


def test_a_failing_worker_surfaces_its_error() -> None:
    def run_one(scenario, pool):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"boom in {scenario.name}")

    with pytest.raises(RuntimeError, match="boom"):
        run_batch([Named("a"), Named("b")], workers=2, new_pool=lambda w: FakePool(w, []), run_one=run_one,  # type: ignore[arg-type]
                  on_result=lambda i, r: None)


def test_a_batch_keeps_its_results_in_the_given_order_and_saves_them_after_each(tmp_path: Path) -> None:
    batch = Batch(tmp_path / "reports" / "b1", Settings(), cleanup=None, meta={"batch_id": "b1"}, workers=2)  # type: ignore[arg-type]
    saved: list[list[str]] = []
    seen: list[int] = []

    def run_one(scenario: Any, pool: Any) -> ScenarioResult:
        assert pool.root == batch.folder / "environments" / pool.root.name  # the worker's own pool, in the folder
        time.sleep(0.05 if scenario.name == "s0" else 0.0)  # the first finishes last
        return ScenarioResult(name=scenario.name, agent="a", verdict="pass")

    def on_result(index: int, result: ScenarioResult) -> None:
        seen.append(index)
        if (batch.folder / "results.json").exists():
            saved.append([s["name"] for s in json.loads((batch.folder / "results.json").read_text())["scenarios"]])

    batch.record(ScenarioResult(name="earlier", agent="a", verdict="pass"))
    results = batch.run([Named(f"s{i}") for i in range(4)], run_one=run_one, on_result=on_result)  # type: ignore[list-item]
    assert [r.name for r in results] == ["s0", "s1", "s2", "s3"]
    assert [r.name for r in batch.results] == ["earlier", "s0", "s1", "s2", "s3"]
    assert sorted(seen) == [0, 1, 2, 3]
    assert saved and all(names == sorted(names, key=lambda n: (n != "earlier", n)) for names in saved)
    written = json.loads((batch.folder / "results.json").read_text())
    assert [s["name"] for s in written["scenarios"]] == ["earlier", "s0", "s1", "s2", "s3"]
    assert written["meta"]["batch_id"] == "b1"
    latest = batch.point_latest(tmp_path / "reports")
    assert latest.is_symlink() and latest.resolve() == batch.folder.resolve()


def test_each_scenario_gets_what_the_logs_gained_while_it_ran(tmp_path: Path) -> None:
    logs = tmp_path / "env" / "logs"
    logs.mkdir(parents=True)
    (logs / "router.log").write_text("start-up\nfirst scenario\n")
    offsets = _sizes(logs)
    with (logs / "router.log").open("a") as log:
        log.write("second scenario\n")
    (logs / "restarted.log").write_text("new process\n")  # a log that appeared meanwhile: all of it
    _copy_slices(logs, offsets, tmp_path / "second" / "logs")
    assert (tmp_path / "second" / "logs" / "router.log").read_text() == "second scenario\n"
    assert (tmp_path / "second" / "logs" / "restarted.log").read_text() == "new process\n"
