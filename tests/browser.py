"""Driving the real clients for the browser tests: a Jupyter server (JupyterLab or Notebook 7) with its state in a
temporary folder, Debian's Chromium through Playwright, an exported HTML page that works offline, and reading back
what MathJax typeset. Screenshots land in test-artifacts/; with JACMAGIC_UPDATE_SCREENSHOTS=1 they also replace
docs/'s."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]



def execute(notebook: Path, into: Path) -> Path:
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=180, store_widget_state=True,
                   resources={"metadata": {"path": str(into)}}).execute()
    path = into / notebook.name
    nbformat.write(nb, path)
    return path


OFFLINE_PACKAGES = ["mathjax@2", "requirejs@2", "@jupyter-widgets/html-manager@1"]


def offline_assets() -> Path:
    """Local copies of what an exported page loads from CDNs (MathJax, require.js, the widget renderer), from
    the npm registry, cached in test-artifacts/."""
    where = ARTIFACTS / "npm"
    modules = where / "node_modules"
    if not (modules / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js").exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is needed to fetch MathJax and the widget renderer for the offline page")
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(where), "--no-audit", "--no-fund", "--silent",
                        *OFFLINE_PACKAGES], check=True, timeout=600)
    return modules


def exported(notebook: str, into: Path) -> Path:
    """A demo executed with its widget state saved, exported with nbconvert to a page that loads MathJax, require.js
    and the widget renderer from local files."""
    executed = execute(ROOT / "demo_notebooks" / notebook, into)
    modules = offline_assets()
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed),
                    f"--HTMLExporter.mathjax_url=file://{modules}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
                    f"--HTMLExporter.require_js_url=file://{modules}/requirejs/require.js",
                    "--HTMLExporter.widget_renderer_url="
                    f"file://{modules}/@jupyter-widgets/html-manager/dist/embed-amd.js"],
                   check=True, capture_output=True, timeout=180)
    return executed.with_suffix(".html")


def offline_page(html_file: Path) -> Iterator[object]:
    """The exported page in Chromium with no network."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p, "--allow-file-access-from-files")
        view = browser.new_page(viewport={"width": 1200, "height": 1600})
        try:
            view.goto(f"file://{html_file}")
            yield view
        finally:
            browser.close()


def launch(playwright: object, *args: str) -> object:
    """Debian's Chromium, headless, its scroll bars drawn as a user sees them (headless hides them by default: a
    scroll bar then has no height to measure, and screenshots would not show it)."""
    return playwright.chromium.launch(  # type: ignore[attr-defined]
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *args], ignore_default_args=["--hide-scrollbars"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server(app: str, home: Path) -> Iterator[tuple[str, Path]]:
    """A Jupyter server (`jupyterlab`, or `notebook` for Notebook 7) on a free port, its state in `home`."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    root = home / "root"
    root.mkdir()
    env = {**os.environ}
    for var in ["JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
                "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"]:
        env[var] = str(home / var.lower())
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    # every cell drawn, not only those in view: a test measures outputs anywhere in the notebook
    (settings / "notebook-extension").mkdir()
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port = free_port()
    log = home / f"{app}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
         "--ServerApp.password=", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            pytest.fail(f"{app} exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{app} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    try:
        yield url, root
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def screenshot(page: object, name: str, for_readme: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    if for_readme and os.environ.get("JACMAGIC_UPDATE_SCREENSHOTS"):
        shutil.copy(path, ROOT / "docs" / path.name)
    return path


def run_all(page: object, wait_for_idle: bool) -> None:
    """Run All Cells from the Run menu, once the notebook is open. The command is ignored while the kernel is
    still starting: JupyterLab says "Idle" when it is ready; else (Notebook 7) wait a little and retry."""
    from playwright.sync_api import expect

    page.wait_for_selector(".jp-Notebook", timeout=60_000)  # type: ignore[attr-defined]
    if wait_for_idle:
        expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)  # type: ignore[attr-defined]
    attempts = 2 if wait_for_idle else 4
    for attempt in range(attempts):
        if not wait_for_idle:
            page.wait_for_timeout(3000)  # type: ignore[attr-defined]
        page.get_by_role("menuitem", name="Run").click()  # type: ignore[attr-defined]
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()  # type: ignore[attr-defined]
        try:
            expect(page.locator(".jp-InputPrompt", has_text="[1]:")).to_have_count(1, timeout=20_000)  # type: ignore[attr-defined]
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def typeset_text(element: object) -> str:
    """MathJax 3 draws glyphs with CSS: read them back from the mjx-c classes (hex code points)."""
    classes = element.evaluate(  # type: ignore[attr-defined]
        "e => Array.from(e.querySelectorAll('mjx-c')).map(c => c.className)")
    chars = []
    for name in classes:
        match = re.search(r"mjx-c([0-9A-F]+)", name)
        if match:
            chars.append(chr(int(match.group(1), 16)))
    import unicodedata

    return unicodedata.normalize("NFKC", "".join(chars))


def assert_native_mathml(math: object) -> None:
    """The panel's formulas are MathML laid out by the browser itself (display "math" or "block math"), with real
    size, and no MathJax inside: nothing depends on the host's typesetter."""
    found = math.evaluate_all(  # type: ignore[attr-defined]
        "ms => ms.map(m => [getComputedStyle(m).display, m.getBoundingClientRect().width, "
        "m.getBoundingClientRect().height, m.querySelectorAll('mjx-container').length])")
    assert found, "no MathML"
    for display, width, height, mathjax in found:
        assert "math" in display and width > 0 and height > 0 and mathjax == 0, found

