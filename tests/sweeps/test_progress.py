"""What a sweep prints after each job: the jobs done and the time left, each job weighed by
its cost."""

import json

from src.sweeps.progress import SweepProgress


def sweep_dir_with(tmp_path, jobs: int, workers: int, times: list[str], costs=None):
    (tmp_path / SweepProgress.STARTED).write_text(
        json.dumps({"jobs": jobs, "workers": workers, "costs": costs, "time": 1000.0}))
    (tmp_path / SweepProgress.JOBS).write_text("\n".join(times) + "\n")
    return tmp_path


def test_time_left_counts_the_running_jobs_and_the_waves_not_started(tmp_path):
    # 6 jobs on 2 workers at 1100 s: job 0 took 100 s, job 1 has run 60 s, 4 wait for 2 waves
    times = ["0 start 1000", "1 start 1040", "0 end 1100"]
    line = SweepProgress().line(sweep_dir_with(tmp_path, 6, 2, times), now=1100.0)
    assert line == "sweep: 1/6 jobs done in 1 min 40 s, about 4 min 00 s left"  # 40 + 2 x 100


def test_time_left_weighs_each_job_by_its_cost(tmp_path):
    # The sweep's two batchnorm jobs (cost 2) are done in 200 s, so a cost-1 job takes 100 s:
    # with two workers the four plain jobs left take 2 waves of 100 s, not 2 of 200 s.
    times = ["0 start 1000", "1 start 1000", "0 end 1200", "1 end 1200"]
    line = SweepProgress().line(
        sweep_dir_with(tmp_path, 6, 2, times, costs=[2, 2, 1, 1, 1, 1]), now=1200.0)
    assert line == "sweep: 2/6 jobs done in 3 min 20 s, about 3 min 20 s left"


def test_the_last_line_says_done_without_an_estimate(tmp_path):
    times = ["0 start 1000", "0 end 1030"]
    assert SweepProgress().line(sweep_dir_with(tmp_path, 1, 1, times), now=1030.0) == (
        "sweep: 1/1 jobs done in 30 s")
