"""The sign-in throttle: growing waits after three failures, per client and per username."""

from __future__ import annotations

import logging
import threading

import pytest

from accounts.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(throttle: Throttle, client: str, user: str) -> int:
    """One wrong-password attempt: the wait refusing it, or 0 when it was checked (and failed)."""
    wait = throttle.attempt(client, user)
    if not wait:
        throttle.failed(client, user)
    return wait


def test_three_free_failures_then_waits_that_double_up_to_a_minute(clock: Clock) -> None:
    throttle = Throttle(clock=clock)
    waits = []
    for _ in range(12):
        assert fail(throttle, "10.0.0.1", "ana") == 0
        waits.append(throttle.wait_s("10.0.0.1", "ana"))
        clock.now += waits[-1]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]


def test_twenty_wrong_passwords_take_at_least_thirty_seconds(clock: Clock) -> None:
    # The attacker retries the moment it is allowed; refused attempts count as spent too.
    throttle = Throttle(clock=clock)
    started, checked, refused = clock.now, 0, 0
    while checked + refused < 20:
        wait = fail(throttle, "203.0.113.9", "admin")
        if wait:
            refused += 1
            clock.now += wait
        else:
            checked += 1
    assert clock.now - started >= 30
    # Meanwhile someone else, elsewhere, signs in at once.
    assert throttle.attempt("198.51.100.7", "ana") == 0
    throttle.succeeded("198.51.100.7", "ana")


def test_an_attempt_during_the_wait_is_refused_with_the_seconds_left(clock: Clock,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    throttle = Throttle(clock=clock)
    for _ in range(5):
        fail(throttle, "c", "ana")
        clock.now += throttle.wait_s("c", "ana")
    fail(throttle, "c", "ana")  # the sixth failure: wait 8 s
    clock.now += 2.5
    with caplog.at_level(logging.WARNING, logger="accounts.throttle"):
        assert throttle.attempt("c", "ana") == 6
    assert "refused" in caplog.text and "'ana'" in caplog.text and " c" in caplog.text


def test_the_username_is_throttled_from_every_client(clock: Clock) -> None:
    throttle = Throttle(clock=clock)
    for n in range(3):
        fail(throttle, f"10.0.0.{n}", "Admin")
    assert throttle.attempt("10.0.0.99", "admin") == 1


def test_the_client_is_throttled_for_every_username(clock: Clock) -> None:
    throttle = Throttle(clock=clock)
    for name in ("a", "b", "c"):
        fail(throttle, "10.0.0.1", name)
    assert throttle.attempt("10.0.0.1", "d") == 1
    assert throttle.attempt("10.0.0.2", "d") == 0


def test_success_clears_the_username(clock: Clock) -> None:
    throttle = Throttle(clock=clock)
    fail(throttle, "c", "ana")
    fail(throttle, "c", "ana")
    assert throttle.attempt("c", "ana") == 0
    throttle.succeeded("c", "ana")
    fail(throttle, "other", "ana")
    fail(throttle, "other2", "ana")
    assert throttle.attempt("other3", "ana") == 0  # only two failures since the success


def test_failures_are_forgotten_after_a_quiet_while(clock: Clock) -> None:
    throttle = Throttle(clock=clock, forget_after=600)
    for _ in range(4):
        fail(throttle, "c", "ana")
        clock.now += throttle.wait_s("c", "ana")
    clock.now += 601
    assert throttle.wait_s("c", "ana") == 0
    for _ in range(2):
        fail(throttle, "c", "ana")
    assert throttle.wait_s("c", "ana") == 0


def test_failures_are_logged_without_the_password(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    throttle = Throttle(clock=clock)
    with caplog.at_level(logging.WARNING, logger="accounts.throttle"):
        fail(throttle, "192.0.2.1", "ana")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "'ana'" in record.getMessage() and "192.0.2.1" in record.getMessage()


def test_a_burst_of_parallel_guesses_gets_only_the_free_tries(clock: Clock) -> None:
    # Each attempt counts from its start, so parallel requests cannot all pass the check first.
    throttle = Throttle(clock=clock)
    allowed = []
    barrier = threading.Barrier(16)

    def guess() -> None:
        barrier.wait()
        allowed.append(throttle.attempt("c", "ana") == 0)

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 3
