"""User threads for concurrency tests."""

from __future__ import annotations

from collections.abc import Callable


def users(work: Callable[[int], object], count: int = 4) -> list[BaseException]:
    """Run ``work(k)`` on ``count`` user threads released together; the errors they raised."""
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def user(k: int) -> None:
        try:
            start.wait()
            work(k)
        except BaseException as exc:  # pragma: no cover - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
