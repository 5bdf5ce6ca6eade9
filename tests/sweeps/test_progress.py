"""What a sweep prints after each job: the jobs done and the time left, each job weighed by
its cost."""

import json

from src.sweeps.progress import SweepProgress, core_seconds


def sweep_dir_with(tmp_path, jobs: int, workers: int, times: list[str], costs=None,
                   start: float = 0.0, cores: int | None = None):
    """`times`: `<job> start|end <time> <process>` records, as the jobs write them; the
    launching process is 1."""
    (tmp_path / SweepProgress.STARTED).write_text(json.dumps(
        {"jobs": jobs, "workers": workers, "costs": costs, "time": 1000.0, "start": start,
         "launcher": 1, "cores": cores or workers}))
    (tmp_path / SweepProgress.JOBS).write_text("\n".join(times) + "\n")
    return tmp_path


def test_time_left_counts_the_running_jobs_and_the_waves_not_started(tmp_path):
    # 6 jobs on 2 workers at 1100 s: job 0 took 100 s, job 1 has run 60 s, 4 wait for 2 waves
    times = ["0 start 1000 11", "1 start 1040 12", "0 end 1100 11"]
    line = SweepProgress().line(sweep_dir_with(tmp_path, 6, 2, times), now=1100.0)
    assert line == "sweep: 1/6 jobs done in 1 min 40 s, about 4 min 00 s left"  # 40 + 2 x 100


def test_time_left_weighs_each_job_by_its_cost(tmp_path):
    # The sweep's two batchnorm jobs (cost 2) are done in 200 s, so a cost-1 job takes 100 s:
    # with two workers the four plain jobs left take 2 waves of 100 s, not 2 of 200 s.
    times = ["0 start 1000 11", "1 start 1000 12", "0 end 1200 11", "1 end 1200 12"]
    line = SweepProgress().line(
        sweep_dir_with(tmp_path, 6, 2, times, costs=[2, 2, 1, 1, 1, 1]), now=1200.0)
    assert line == "sweep: 2/6 jobs done in 3 min 20 s, about 3 min 20 s left"


def test_the_last_line_says_done_without_an_estimate(tmp_path):
    times = ["0 start 1000 1", "0 end 1030 1"]
    assert SweepProgress().line(sweep_dir_with(tmp_path, 1, 1, times), now=1030.0) == (
        "sweep: 1/1 jobs done in 30 s")


def test_a_workers_start_up_is_not_counted_against_the_jobs_after_it(tmp_path):
    # Two workers' first jobs (cost 3 each) took 40 s, 10 s of it each worker's start-up (cost
    # 1): a job of cost 3 on a started worker takes 30 s, so the one left takes 30 s, not 40.
    times = ["0 start 1000 11", "1 start 1000 12", "0 end 1040 11", "1 end 1040 12"]
    line = SweepProgress().line(
        sweep_dir_with(tmp_path, 3, 2, times, costs=[3, 3, 3], start=1.0), now=1040.0)
    assert line == "sweep: 2/3 jobs done in 40 s, about 30 s left"


def test_jobs_in_the_launching_process_pay_no_start_up(tmp_path):
    """With one worker the jobs run in the launching process, which loaded its libraries for
    the preflight already."""
    times = ["0 start 1000 1", "0 end 1030 1"]
    line = SweepProgress().line(
        sweep_dir_with(tmp_path, 2, 1, times, costs=[3, 3], start=1.0), now=1030.0)
    assert line == "sweep: 1/2 jobs done in 30 s, about 30 s left"


def test_jobs_sharing_the_cores_are_timed_by_their_share(tmp_path):
    # Three workers on two cores: job 0 (cost 1) took 150 s at 2/3 of a core, 100 core-s a unit.
    # Jobs 1 and 2 (cost 2) have had 100 core-s each: 100 left, now a core each, so 100 s, not
    # the 150 s that 150 wall seconds a unit would say.
    times = ["0 start 1000 11", "1 start 1000 12", "2 start 1000 13", "0 end 1150 11"]
    line = SweepProgress().line(
        sweep_dir_with(tmp_path, 3, 3, times, costs=[1, 2, 2], cores=2), now=1150.0)
    assert line == "sweep: 1/3 jobs done in 2 min 30 s, about 1 min 40 s left"


def test_a_jobs_core_seconds_are_its_share_of_the_cores_over_its_span():
    spans = {"a": (0.0, 30.0), "b": (0.0, 30.0), "c": (0.0, 60.0)}  # three, then c alone
    assert core_seconds(spans, cores=2) == {"a": 20.0, "b": 20.0, "c": 50.0}
    assert core_seconds(spans, cores=4) == {"a": 30.0, "b": 30.0, "c": 60.0}
