"""InferenceWorker: newest input wins, one inference at a time, errors do not kill the thread."""

from __future__ import annotations

import threading

from dp_policy_node.inference_worker import InferenceWorker


def test_newest_wins_and_one_in_flight():
    release = threading.Event()
    started = threading.Event()
    running, peak, results = [0], [0], []
    lock = threading.Lock()

    def infer(item: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        started.set()
        release.wait(5.0)
        with lock:
            running[0] -= 1
        return item * 10

    done = threading.Event()

    def on_result(item: int, result: int) -> None:
        results.append((item, result))
        if item == 4:
            done.set()

    worker: InferenceWorker[int, int] = InferenceWorker(infer, on_result, lambda i, e: None)
    worker.start()
    worker.submit(0)
    assert started.wait(5.0)
    for item in (1, 2, 3, 4):  # arrive while 0 is in flight: only the newest (4) survives
        worker.submit(item)
    assert worker.dropped == 3 and worker.busy
    release.set()
    assert done.wait(5.0)
    assert results == [(0, 0), (4, 40)] and peak[0] == 1
    assert worker.stop(timeout_s=5.0) and not worker.running
    assert worker.submit(5) is False  # stopped: nothing is queued


def test_errors_are_reported_and_the_worker_keeps_going():
    errors, results = [], []
    done = threading.Event()

    def infer(item: int) -> int:
        if item < 0:
            raise RuntimeError("bad input")
        return item

    def on_result(item: int, result: int) -> None:
        results.append(result)
        done.set()

    failed = threading.Event()

    def on_error(item: int, exc: BaseException) -> None:
        errors.append(str(exc))
        failed.set()

    worker: InferenceWorker[int, int] = InferenceWorker(infer, on_result, on_error)
    worker.start()
    worker.submit(-1)
    assert failed.wait(5.0)
    worker.submit(7)
    assert done.wait(5.0)
    assert errors == ["bad input"] and results == [7] and worker.failed == 1
    worker.stop()
