"""Rate, ETA and throttling of the progress reports every long job uses."""

from crate_app.domain.progress import ProgressMeter, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_and_eta_follow_recent_speed() -> None:
    clock = FakeClock()
    reports = []
    meter = ProgressMeter(total=1000, report=reports.append, interval=0.1, window=5.0, clock=clock)
    for _ in range(100):  # 10 items/s for 10 s
        clock.now += 0.1
        meter.update(advance=1)
    snap = meter.snapshot()
    assert snap.done == 100
    assert abs(snap.rate - 10.0) < 0.5
    assert abs(snap.eta - 90.0) < 5
    assert "100 / 1,000" in snap.describe()


def test_reports_are_throttled_but_finish_always_reports() -> None:
    clock = FakeClock()
    reports = []
    meter = ProgressMeter(total=None, report=reports.append, interval=1.0, clock=clock)
    for _ in range(1000):
        clock.now += 0.001  # 1000 updates within one second
        meter.update(advance=1, current="x")
    assert len(reports) <= 2
    final = meter.finish()
    assert reports[-1] == final and final.done == 1000 and final.eta is None and final.fraction is None


def test_format_duration() -> None:
    assert format_duration(42.4) == "42 s"
    assert format_duration(190) == "3 min"
    assert format_duration(3900) == "1 h 05 min"
