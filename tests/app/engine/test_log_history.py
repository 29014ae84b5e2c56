"""Build logs: the previous ones are kept (newest first), the oldest beyond the limit dropped."""

from __future__ import annotations

from pathlib import Path

from kiln.engine.log_history import keep_previous, previous_logs


def test_previous_logs_shift_back_and_the_oldest_goes(tmp_path: Path) -> None:
    log = tmp_path / "hello-build.log"
    keep_previous(log, keep=2)  # nothing to keep yet
    for build in range(4):
        keep_previous(log, keep=2)
        log.write_text(f"build {build}\n", encoding="utf-8")
    assert [p.name for p in previous_logs(log, keep=2)] == ["hello-build.log", "hello-build.1.log",
                                                           "hello-build.2.log"]
    assert [p.read_text(encoding="utf-8") for p in previous_logs(log, keep=2)] == ["build 3\n", "build 2\n",
                                                                                  "build 1\n"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello-build.1.log", "hello-build.2.log", "hello-build.log"]
