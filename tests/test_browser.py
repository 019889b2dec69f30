"""The course as a learner uses it: each notebook in real JupyterLab, in real Chromium.

JupyterLab runs headless on loopback with a token; Playwright drives Debian's Chromium
(``executable_path``, so no browser is downloaded). For each notebook: run all cells,
check that no cell shows an unexpected error, that Mermaid diagrams and plotly timelines
render, and that the playground still works when clicked after Run All (its clean-up
deleted the playground's resources: the click sets them up again). Screenshots go to
test-artifacts/.
Without Chromium the test is skipped with a loud message, except in CI, where a
missing Chromium fails the run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
CELL_TIMEOUT_MS = 90_000

pytestmark = pytest.mark.timeout(900)


def test_notebooks_are_found():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


def _require_chromium():
    if CHROMIUM:
        return
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI: `python3 tasks.py test` installs it as root.")
    message = ("CHROMIUM IS NOT INSTALLED: the real-browser test of the notebooks is SKIPPED. "
               "Install Debian's chromium package to run it.")
    warnings.warn(message, stacklevel=2)
    print(f"\n\n*** {message} ***\n", file=sys.stderr)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    _require_chromium()
    # JupyterLab autosaves: it works on a copy, so the committed notebooks stay as they are.
    workdir = tmp_path_factory.mktemp("notebooks")
    shutil.copytree(ROOT / "notebooks", workdir, dirs_exist_ok=True)
    token, port = secrets.token_hex(16), _free_port()
    settings = ARTIFACTS / "jupyterlab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)  # no "Jupyter news?" pop-up, no fetching
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)  # every cell in the page, not only visible ones
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(ARTIFACTS / "jupyter-config")}
    # the server's log (and its kernels' stderr) in a file: a pipe nobody reads would
    # block them once full, and the log says why a kernel died
    log = open(ARTIFACTS / "jupyterlab.log", "w")  # noqa: SIM115 - closed after the server
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={workdir}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", f"--LabApp.user_settings_dir={settings}",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.close()
                pytest.fail("JupyterLab did not start: "
                            + (ARTIFACTS / "jupyterlab.log").read_text()[-2000:])
            time.sleep(0.3)
    yield base, token
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(jupyter):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _expected_errors(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    return sum(1 for cell in cells
               if "raises-exception" in cell.get("metadata", {}).get("tags", []))


def _run(page, menu_item: str):
    """Run cells from the Run menu; wait until the last code cell shows a count and none
    is queued, or until a cell shows an error (JupyterLab stops running there). (Collapsed
    solution cells show no prompt, so the last cell's count says that the run ended.)"""
    page.locator(".jp-Notebook:visible").first.click()  # focus it, or the menu may miss it
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=menu_item, exact=True).click()
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            const last = prompts[prompts.length - 1];
            const queued = prompts.some(p => p.textContent.includes('*'));
            const error = document.querySelector(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
            return (last && /\\[\\d+\\]/.test(last.textContent) && !queued) || error;
        }""",
        timeout=CELL_TIMEOUT_MS * 2, polling=500,
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(jupyter, browser, path):
    base, token = jupyter
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # A workspace of its own, so that no other notebook is open in the page.
        page.goto(f"{base}/lab/workspaces/{path.stem}/tree/{path.name}?reset&token={token}",
                  wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=60_000)
        _run(page, "Run All Cells")
        errors = page.locator(".jp-OutputArea-output[data-mime-type="
                              "'application/vnd.jupyter.stderr']").filter(has_text="Error")
        shown = [errors.nth(i).inner_text()[-1500:] for i in range(errors.count())]
        assert len(shown) <= _expected_errors(path), f"{path.name} shows errors: {shown}"
        source = path.read_text()
        if "```mermaid" in source:
            page.wait_for_selector(".jp-RenderedMermaid img, .jp-RenderedMermaid svg",
                                   timeout=30_000)
        if ".timeline()" in source:  # plotly's JupyterLab renderer draws the chart
            page.wait_for_selector(".jp-RenderedPlotly .main-svg", state="attached",
                                   timeout=30_000)
        if path.stem in PLAYGROUNDS:
            _use_the_playground(page, path)
        page.screenshot(path=str(ARTIFACTS / f"{path.stem}.png"), full_page=False)
    except Exception:
        dump = page.evaluate("""() => [...document.querySelectorAll('.jp-Cell')].map(c =>
            ((c.querySelector('.jp-InputPrompt')||{}).textContent||'') + ' | ' +
            ((c.querySelector('.jp-InputArea-editor')||{}).textContent||'').slice(0,60) + ' || ' +
            ((c.querySelector('.jp-OutputArea')||{}).textContent||'').slice(0,300))""")
        (ARTIFACTS / f"{path.stem}-dump.txt").write_text("\n".join(dump))
        page.screenshot(path=str(ARTIFACTS / f"{path.stem}-failure.png"), full_page=False)
        raise
    finally:
        page.close()


# After Run All, per notebook: (button, what the widget then says)
PLAYGROUNDS = {
    "01-synchronous-invocation": [("Event", "Event: 1 × 202"), ("DryRun", "DryRun: 1 × 204")],
    "02-asynchronous-invocation": [("Event", "Event: 1 × 202")],
    "03-dry-run": [("DryRun", "DryRun: 1 × 204")],
    "04-s3-event-notifications": [(None, "S3 answered 200")],
    "06-sqs-event-source-mapping": [(None, "Sent orders")],
    "07-api-gateway": [(None, "HTTP 200 OK")],
    "08-application-load-balancer": [(None, "HTTP 200 OK")],
    "09-ses-email-receiving": [(None, "SMTP answered 250")],
    "10-cloudfront-lambda-at-edge": [(None, "HTTP 200 OK")],
    "11-amazon-data-firehose": [(None, "Firehose took")],
    "14-function-urls": [(None, "HTTP 200 OK")],
    "15-choosing-an-invocation-model": [(None, "invoke(s) succeeded")],
}
ACTION = {"04": "Upload", "06": "Send orders", "07": "Send", "08": "Send", "09": "Send",
          "10": "Send", "11": "Send records", "14": "Send", "15": "Invoke"}


def _use_the_playground(page, path: Path):
    widget = page.locator(".jupyter-widgets.widget-tab").first
    widget.scroll_into_view_if_needed()
    assert widget.is_visible(), f"{path.name}: the playground is not visible after Run All"
    for choice, text in PLAYGROUNDS[path.stem]:
        if choice is not None:  # the invocation playground: a type, then Invoke
            page.locator(".widget-toggle-buttons").first.get_by_role(
                "button", name=choice, exact=True).click()
            page.get_by_role("button", name="Invoke").first.click()
        else:
            page.locator("button.jupyter-button", has_text=ACTION[path.stem[:2]]).first.click()
        page.wait_for_function(
            """(text) => [...document.querySelectorAll('.widget-html-content')]
                .some(node => node.textContent.includes(text))""",
            arg=text, timeout=30_000)
    page.get_by_role("tab", name="Timeline").first.click()
    # a plotly chart, or (after dry runs only) the sentence that nothing has run yet
    page.wait_for_selector(".widget-tab .widget-output .jp-OutputArea-output",
                           state="attached", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / f"{path.stem}-playground.png"), full_page=False)
