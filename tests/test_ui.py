"""The MLflow UI as a person uses it: a real sweep's runs, ticked and compared, in Chromium.

Screenshots land in test-artifacts/ for a human to look at. Needs Debian's `chromium` and
`chromium-driver`; Selenium is pointed at both, so it never tries to download a browser.
"""

import re
from pathlib import Path

import pytest
from mlflow import MlflowClient
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import ROOT, run_cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--window-size=1600,1300"]
RUNS = ["mnist-cnn-batchnorm-s0", "mnist-cnn-dropout-s0", "mnist-cnn-none-s0"]

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
    WebDriverWait(driver, timeout).until(lambda d: all(w in text(d) for w in words))
    return text(driver)


def close_assistant(driver) -> None:
    """MLflow 3.x opens an assistant side panel over a third of the page; a person closes it."""
    for button in driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
        button.click()


def screenshot(driver, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SHOTS / name))


def test_sweep_runs_compare_in_the_browser_and_the_report_opens(tmp_path, mlflow_server, browser):
    sweep = run_cli("src.train", "-m", "reg=none,dropout,batchnorm", "trainer.epochs=1",
                    "dataset.train_limit=500", cwd=tmp_path, MLFLOW_TRACKING_URI=mlflow_server)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    client = MlflowClient(mlflow_server)
    exp_id = client.get_experiment_by_name("mnist-cnn").experiment_id
    wait = WebDriverWait(browser, 60)

    browser.get(f"{mlflow_server}/#/experiments/{exp_id}/runs")
    # The sweep is one parent run; its jobs are nested under it until a person expands it.
    parent = wait.until(EC.presence_of_element_located(
        (By.XPATH, "//a[starts-with(normalize-space(), 'sweep reg=none,dropout,batchnorm')]")))
    close_assistant(browser)
    name_cell = parent.find_element(By.XPATH, "./ancestor::div[contains(@class, 'ag-cell')][1]")
    name_cell.find_element(By.CSS_SELECTOR, "button, [role=button]").click()
    shows(browser, *RUNS, "4 matching runs")
    screenshot(browser, "ui-experiment-runs.png")

    # Compare the three jobs, as "select runs -> Compare" does.
    jobs = client.search_runs([exp_id], "tags.`mlflow.parentRunId` LIKE '%'")
    ids = ",".join(f'"{run.info.run_id}"' for run in jobs)
    browser.get(f"{mlflow_server}/#/compare-runs?runs=[{ids}]&experiments=[\"{exp_id}\"]")
    shows(browser, "Parameters", "Metrics", "test_accuracy", *RUNS)
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
    shows(browser, "compare-mnist-cnn-by-reg", "report.html", "validation_curves.png")
    close_assistant(browser)
    browser.find_element(By.XPATH, "//*[normalize-space()='report.html']").click()
    wait.until(EC.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))
    report = shows(browser, "Verdicts", "dropout vs none", "batchnorm vs none")
    assert "no significance claim is possible" in report
    browser.switch_to.default_content()
    screenshot(browser, "ui-comparison-report.png")
