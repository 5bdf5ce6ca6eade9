"""The MLflow UI as a person uses it: a real sweep's runs on the model-training view, with
their datasets, models and system metrics, ticked and compared, and the comparison's report
with every verdict field, in Chromium.

Screenshots land in test-artifacts/ for a human to look at. Needs Debian's `chromium` and
`chromium-driver`; Selenium is pointed at both, so it never tries to download a browser.
"""

import re
from pathlib import Path

import pytest
from mlflow import MlflowClient
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from src.tracking import store
from tests.conftest import ROOT, run_cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--window-size=1600,1300"]
RUNS = [f"synthetic-cnn-{reg}-s{seed}" for reg in ("none", "dropout", "batchnorm")
        for seed in (0, 1)]

pytestmark = [
    pytest.mark.slow, pytest.mark.server,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: "
                       "apt-get install -y chromium chromium-driver"),
]


@pytest.fixture
def browser(tmp_path, monkeypatch):
    assert CHROMEDRIVER.exists(), ("chromium is installed but not its driver: "
                                   "apt-get install -y chromium-driver")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for downloads
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def shows(driver, *words: str, timeout: float = 120) -> str:
    """Wait until the single-page app has rendered every word; return the page text."""
    return until(driver, lambda page: all(w in page for w in words), str(list(words)), timeout)


def close_assistant(driver) -> None:
    """MLflow 3.x opens an assistant side panel over a third of the page; a person closes it."""
    for button in driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
        button.click()


def until(driver, holds, what: str, timeout: float = 60) -> str:
    """Wait until `holds(page text)`; fail with the page text if it never does."""
    try:
        WebDriverWait(driver, timeout).until(lambda d: holds(text(d)))
    except TimeoutException:
        raise AssertionError(f"{driver.current_url} never showed {what}:\n{text(driver)}") \
            from None
    return text(driver)


def scroll_tables_to_end(driver) -> None:
    """Scroll every list that scrolls inside the page to its end, as a person would to read
    it (the compare page's tables are react-virtualized grids: rows render as they scroll)."""
    driver.execute_script("""
        for (const box of document.querySelectorAll('.ReactVirtualized__Grid')) {
            if (box.scrollHeight > box.clientHeight) box.scrollTop = box.scrollHeight;
        }""")


def screenshot(driver, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SHOTS / name))


def jobs_dataset_digest(client, exp_id: str) -> str:
    """The one training-set digest of the sweep's jobs (the same split for every job)."""
    jobs = client.search_runs([exp_id], "tags.`mlflow.parentRunId` LIKE '%'")
    [digest] = {entry.dataset.digest for run in jobs for entry in run.inputs.dataset_inputs
                if entry.dataset.name == "synthetic-train"}
    return digest


def test_sweep_runs_compare_in_the_browser_and_the_report_opens(tmp_path, mlflow_server, browser,
                                                               synthetic):
    # Two seeds a group: the fewest that give the report's verdicts their statistics.
    # A system sample a second: these jobs last seconds, and MLflow logs one only after an interval.
    sweep = run_cli("src.train", "-m", "reg=none,dropout,batchnorm", "seed=0,1", "trainer.epochs=1",
                    "dataset.train_limit=500", "tracking.system_metrics_interval=1", *synthetic,
                    cwd=tmp_path, MLFLOW_TRACKING_URI=mlflow_server)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    client = MlflowClient(mlflow_server)
    exp_id = client.get_experiment_by_name("synthetic-cnn").experiment_id
    wait = WebDriverWait(browser, 60)

    # The link a sweep prints: the model-training view (runs, models, registry), not GenAI's.
    assert store.ui_link(mlflow_server, exp_id) in sweep.stderr + sweep.stdout
    browser.get(store.ui_link(mlflow_server, exp_id))
    # The sweep is one parent run; its jobs are nested under it until a person expands it.
    parent = wait.until(EC.presence_of_element_located(
        (By.XPATH, "//a[starts-with(normalize-space(), 'sweep reg=none,dropout,batchnorm')]")))
    close_assistant(browser)
    page = shows(browser, "Model training", "Models", "Model registry")
    assert "Judges" not in page and "Prompts" not in page  # GenAI's side bar
    name_cell = parent.find_element(By.XPATH, "./ancestor::div[contains(@class, 'ag-cell')][1]")
    name_cell.find_element(By.CSS_SELECTOR, "button, [role=button]").click()
    shows(browser, *RUNS, "7 matching runs")
    # Each job's row: its training set in the Dataset column, its logged model in Models
    # (cells the grid fills in after the rows appear).
    dataset = f"synthetic-train ({jobs_dataset_digest(client, exp_id)})"
    until(browser, lambda page: page.count(dataset) == len(RUNS)
          and re.findall(r"^model$", page, re.MULTILINE) == ["model"] * len(RUNS),
          f"{len(RUNS)} rows with {dataset} and a model")
    screenshot(browser, "ui-experiment-runs.png")

    # A job's system metrics, as charts on its run page.
    job = client.search_runs([exp_id], "tags.`mlflow.parentRunId` LIKE '%'")[0]
    browser.get(store.ui_link(mlflow_server, exp_id, job.info.run_id, tab="system-metrics"))
    shows(browser, "System metrics", "cpu_utilization_percentage",
          "system_memory_usage_megabytes")
    close_assistant(browser)
    screenshot(browser, "ui-system-metrics.png")

    # Compare seed 0's three jobs, as "select runs -> Compare" does.
    jobs = client.search_runs([exp_id], "tags.`mlflow.parentRunId` LIKE '%' and params.seed = '0'")
    ids = ",".join(f'"{run.info.run_id}"' for run in jobs)
    browser.get(f"{mlflow_server}/#/compare-runs?runs=[{ids}]&experiments=[\"{exp_id}\"]")
    shows(browser, "Parameters", "Metrics", *[name for name in RUNS if name.endswith("-s0")])
    # The metrics table scrolls inside the page: system/... metrics come before test_accuracy.
    WebDriverWait(browser, 60).until(
        lambda d: scroll_tables_to_end(d) or "test_accuracy" in text(d))
    for switch in browser.find_elements(By.CSS_SELECTOR, "[role=switch]"):  # "Show diff only"
        switch.click()
    page = shows(browser, "reg.name", "test_accuracy")
    row = re.search(r"^reg\.name ((?:none|dropout|batchnorm) ?){3}$", page, re.MULTILINE)
    assert row and set(row.group(0).split()[1:]) == {"none", "dropout", "batchnorm"}, page
    browser.execute_script("arguments[0].scrollIntoView()",
                           browser.find_element(By.XPATH, "//*[normalize-space()='Run details']"))
    screenshot(browser, "ui-compare-runs.png")

    result = run_cli("src.compare", "--out", "report", cwd=tmp_path,
                     MLFLOW_TRACKING_URI=mlflow_server)
    assert result.returncode == 0, result.stderr[-3000:]
    [cmp] = client.search_runs([exp_id], "tags.kind = 'comparison'")
    browser.get(f"{mlflow_server}/#/experiments/{exp_id}/runs/{cmp.info.run_id}/artifacts")
    shows(browser, "compare-synthetic-cnn-by-reg", "report.html", "validation_curves.png")
    close_assistant(browser)
    browser.find_element(By.XPATH, "//*[normalize-space()='report.html']").click()
    wait.until(EC.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))
    # Every verdict field: the difference with its interval, the effect size, raw and Holm p,
    # power; each group's test-set floor; the per-image pairing and seed ensembles.
    shows(browser, "Verdicts", "dropout vs none", "batchnorm vs none", "difference, pt",
          "95% CI, pt", "Hedges' g", "Holm p", "seeds a group for 80 % power",
          "smallest detectable, pt", "test-set floor ±", "(500 images)", "Per image",
          "seed-ensemble acc. %", "McNemar p")
    browser.switch_to.default_content()
    screenshot(browser, "ui-comparison-report.png")
