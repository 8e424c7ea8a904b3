"""jacmagic in the real clients: JupyterLab in headless Chromium (Playwright), an exported HTML page, and terminal
IPython. Screenshots land in test-artifacts/; with JACMAGIC_UPDATE_SCREENSHOTS=1 they also replace the README's."""

from __future__ import annotations

import json
import math
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

pytestmark = pytest.mark.slow  # a real kernel or browser: seconds per test

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_terminal_ipython_prints_readable_text() -> None:
    script = ('get_ipython().run_line_magic("load_ext", "jacmagic")\n'
              'get_ipython().run_cell_magic("jacobian", "--det --at r=2,theta=0", '
              '"x = r*cos(theta)\\ny = r*sin(theta)")\n')
    out = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--simple-prompt", "-i"],
                         input=script, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    for expected in ["J = ∂(x, y)/∂(r, θ)", "cos(θ)", "-r⋅sin(θ)", "det J = r", "det J at r = 2, θ = 0 = 2"]:
        assert expected in text, text
    for stray in ["VBox", "Widget", "Traceback", "Error", "<jacmagic", "object at 0x"]:
        assert stray not in text, text


def test_terminal_ipython_shows_both_modes_and_the_hessian_as_text() -> None:
    script = ('get_ipython().run_line_magic("load_ext", "jacmagic")\n'
              'get_ipython().run_cell_magic("jacobian", "--chain --mode both --at x=0.5", '
              '"g(x) = [x, x**2]\\nh(u, v) = [u*v, u + v]")\n'
              'get_ipython().run_cell_magic("jacobian", "--hessian --at x=0,y=0", "f(x, y) = x**2 - y**2")\n'
              'get_ipython().run_cell_magic("jacobian", "--chain --wrt W", '
              '"W: 30x40\\nx: 40\\ny: 30\\nL = -sum(y * log(softmax(W @ x)))")\n'
              'get_ipython().run_cell_magic("jacobian", "--chain --at w=0.5,x=1,b=0,t=1", '
              '"z = w*x + b\\na = relu(z)\\nL = (a - t)**2 + sqrt(1 + z**2)")\n')
    out = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--simple-prompt", "-i"],
                         input=script, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    for expected in ["reverse mode, from the output back", "forward mode, from the inputs on", "(g\u0307₁, g\u0307₂)",
                     "cost: for the whole 2 x 1 Jacobian, reverse mode needs 2 passes", "cheaper: forward mode",
                     "∇²f", "saddle", "local Jacobian ∂L/∂W = −1 · 1ᵀ · diag(y) · diag(1/(softmax(Wx))) · "
                     "(diag(s) − s sᵀ) · (I₃₀ ⊗ xᵀ) (1 x 1,200)", "(1 x 1,200)"]:
        assert expected in text, text
    for stray in ["VBox", "Widget", "Traceback", "Error", "<jacmagic", "object at 0x", "**", "Heaviside("]:
        assert stray not in text, text  # Unicode math, never Python syntax
    assert "∂a/∂z = -1 · [[H(z)]]" in text and "z/√(z² + 1)" in text


def _execute(notebook: Path, into: Path) -> Path:
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=180, store_widget_state=True,
                   resources={"metadata": {"path": str(into)}}).execute()
    path = into / notebook.name
    nbformat.write(nb, path)
    return path


OFFLINE_PACKAGES = ["mathjax@2", "requirejs@2", "@jupyter-widgets/html-manager@1"]


def _offline_assets() -> Path:
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


def _exported(notebook: str, into: Path) -> Path:
    """A demo executed with its widget state saved, exported with nbconvert to a page that loads MathJax, require.js
    and the widget renderer from local files."""
    executed = _execute(ROOT / "demo_notebooks" / notebook, into)
    modules = _offline_assets()
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed),
                    f"--HTMLExporter.mathjax_url=file://{modules}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
                    f"--HTMLExporter.require_js_url=file://{modules}/requirejs/require.js",
                    "--HTMLExporter.widget_renderer_url="
                    f"file://{modules}/@jupyter-widgets/html-manager/dist/embed-amd.js"],
                   check=True, capture_output=True, timeout=180)
    return executed.with_suffix(".html")


def _offline_page(html_file: Path) -> Iterator[object]:
    """The exported page in Chromium with no network."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--allow-file-access-from-files"])
        view = browser.new_page(viewport={"width": 1200, "height": 1600})
        try:
            view.goto(f"file://{html_file}")
            yield view
        finally:
            browser.close()


def test_exported_html_shows_the_typeset_jacobian_and_the_panel_offline(tmp_path: Path) -> None:
    """Executed with widget state saved, exported with nbconvert, opened in Chromium with no network."""
    html_file = _exported("02_evaluate_at_a_point.ipynb", tmp_path)
    page = html_file.read_text()
    assert r"\frac{\partial \left(x, y\right)}{\partial \left(r, \theta\right)}" in page  # LaTeX for MathJax
    assert "mathjax" in page.lower()
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    assert state, "no widget state in the page"
    models = json.loads(state.group(1))["state"]
    assert any("jacmagic-panel" in str(m["state"].get("value", "")) for m in models.values())
    views = re.findall(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', page, re.S)
    assert views and all(json.loads(v)["model_id"] in models for v in views)
    from playwright.sync_api import expect

    for view in _offline_page(html_file):
        expect(view.locator(".jacmagic-panel").first).to_be_visible(timeout=60_000)  # type: ignore[attr-defined]
        expect(view.locator(".MathJax_CHTML").first).to_be_visible(timeout=60_000)  # type: ignore[attr-defined]
        assert "0.7071" in view.locator(".jacmagic-panel").first.inner_text()  # type: ignore[attr-defined]
        _screenshot(view, "exported_html_offline", for_readme=False)


def test_exported_html_shows_the_walkthrough_and_its_typeset_derivation_offline(tmp_path: Path) -> None:
    """Demo 03 exported with its widget state: the walkthrough panel renders, its step formulas and, opened, its
    whole derivation are MathML typeset by the browser (no MathJax inside the widgets, no network)."""
    from playwright.sync_api import expect

    for view in _offline_page(_exported("03_backprop_chain_rule.ipynb", tmp_path)):
        step = view.locator(".jacmagic-step").first  # type: ignore[attr-defined]
        expect(step).to_contain_text("Backward step 1 of 2", timeout=60_000)
        _assert_native_mathml(step.locator("math"))
        view.get_by_text("the whole derivation").first.click()  # type: ignore[attr-defined]
        derivation = view.locator(".jacmagic-derivation").first  # type: ignore[attr-defined]
        expect(derivation).to_be_visible(timeout=20_000)
        _assert_native_mathml(derivation.locator("math"))
        expect(derivation).to_contain_text("reverse mode")
        assert "tanh" in (derivation.text_content() or "")
        derivation.scroll_into_view_if_needed()
        _screenshot(view, "exported_html_walkthrough")


# --- JupyterLab in a real browser -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(app: str, home: Path) -> Iterator[tuple[str, Path]]:
    """A Jupyter server (`jupyterlab`, or `notebook` for Notebook 7) on a free port, its state in `home`."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    root = home / "root"
    root.mkdir()
    env = {**os.environ}
    for var in ["JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
                "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"]:
        env[var] = str(home / var.lower())
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = _free_port()
    log = home / f"{app}.log"
    server = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
         "--ServerApp.password=", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if server.poll() is not None:
            pytest.fail(f"{app} exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"{app} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    try:
        yield url, root
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    yield from _server("jupyterlab", tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    yield from _server("notebook", tmp_path_factory.mktemp("notebook7"))


def _screenshot(page: object, name: str, for_readme: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    if for_readme and os.environ.get("JACMAGIC_UPDATE_SCREENSHOTS"):
        shutil.copy(path, ROOT / "docs" / path.name)
    return path


def _run_all(page: object, wait_for_idle: bool) -> None:
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


def _typeset_text(element: object) -> str:
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


def _assert_native_mathml(math: object) -> None:
    """The panel's formulas are MathML laid out by the browser itself (display "math" or "block math"), with real
    size, and no MathJax inside: nothing depends on the host's typesetter."""
    found = math.evaluate_all(  # type: ignore[attr-defined]
        "ms => ms.map(m => [getComputedStyle(m).display, m.getBoundingClientRect().width, "
        "m.getBoundingClientRect().height, m.querySelectorAll('mjx-container').length])")
    assert found, "no MathML"
    for display, width, height, mathjax in found:
        assert "math" in display and width > 0 and height > 0 and mathjax == 0, found


def test_jupyterlab_typesets_the_result_and_the_panels_follow_the_user(lab: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, root = lab
    notebook = "03_backprop_chain_rule.ipynb"
    shutil.copy(ROOT / "demo_notebooks" / notebook, root / notebook)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/lab/tree/{notebook}")
            _run_all(page, wait_for_idle=True)
            first_cell = page.locator(".jp-Cell").nth(3)  # the micrograd neuron
            first_cell.scroll_into_view_if_needed()
            panel = first_cell.locator(".jacmagic-panel").first
            expect(panel).to_be_visible(timeout=90_000)
            math_out = first_cell.locator("mjx-container").first
            expect(math_out).to_be_visible(timeout=60_000)
            assert "∂" in _typeset_text(math_out) or "tanh" in _typeset_text(first_cell)
            _screenshot(page, "jupyterlab_result_and_panel")

            # the neuron's gradient at x1 = 2 is (-1.5, 1, 0.5, 0); type x1 = 1 and read the new row
            box = first_cell.locator(".widget-text input").first
            box.fill("1")
            box.press("Enter")
            n = 1.0 * -3.0 + 6.8813735870195432
            slope = 1 - math.tanh(n) ** 2
            want = [-3.0 * slope, 1.0 * slope, 1.0 * slope, 0.0]
            expect(panel.locator("td").first).to_have_text(f"{want[0]:.4g}", timeout=20_000)
            shown = [float(t) for t in panel.locator("td").all_inner_texts()]
            assert shown == pytest.approx(want, rel=1e-3, abs=1e-4)

            step = first_cell.locator(".jacmagic-step")
            expect(step).to_contain_text("Backward step 1 of 2")
            first_cell.get_by_role("button", name="Next ▶").click()
            expect(step).to_contain_text("Backward step 2 of 2", timeout=20_000)
            _screenshot(page, "jupyterlab_walkthrough_step")
        except Exception:
            shot = _screenshot(page, "jupyterlab_failure", for_readme=False)
            print(f"screenshot: {shot}\npage text:\n{page.inner_text('body')[:4000]}")
            raise
        finally:
            browser.close()


def test_jupyterlab_typesets_the_classifier_walkthrough_and_steps_it(lab: tuple[str, Path]) -> None:
    """Demo 05: every formula of the array-level walkthrough typesets without a MathJax error, and the panel
    steps from the loss back to the first layer."""
    from playwright.sync_api import expect, sync_playwright

    url, root = lab
    notebook = "05_classifier.ipynb"
    shutil.copy(ROOT / "demo_notebooks" / notebook, root / notebook)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/lab/workspaces/classifier/tree/{notebook}?reset")  # its own workspace: no other tab
            _run_all(page, wait_for_idle=True)
            cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(4)  # the %%jacobian cell
            cell.scroll_into_view_if_needed()
            step = cell.locator(".jacmagic-step")
            expect(step).to_contain_text("Backward step 1 of 3", timeout=90_000)
            # shown once: the derivation is in the panel, collapsed; opened, the browser typesets its MathML
            cell.get_by_text("the whole derivation").click()
            math = cell.locator(".jacmagic-derivation math")
            expect(math.first).to_be_visible(timeout=60_000)
            _assert_native_mathml(math)
            typeset = "".join(m.text_content() or "" for m in math.all())
            assert "⊗" in typeset and "∂" in typeset and "softmax" in typeset
            assert cell.locator("mjx-merror").count() == 0
            outside = cell.locator(".jp-OutputArea-output:not(:has(.jacmagic-derivation)) mjx-container")
            assert "⊗" not in "".join(_typeset_text(m) for m in outside.all())  # not shown a second time
            cell.get_by_role("button", name="Next ▶").click()
            cell.get_by_role("button", name="Next ▶").click()
            expect(step).to_contain_text("Backward step 3 of 3", timeout=20_000)
            _assert_native_mathml(step.locator("math"))
            assert "I16⊗xT" in re.sub(r"\s+", "", step.text_content() or "")
            _screenshot(page, "jupyterlab_classifier_walkthrough")
        except Exception:
            shot = _screenshot(page, "jupyterlab_classifier_failure", for_readme=False)
            print(f"screenshot: {shot}\npage text:\n{page.inner_text('body')[:4000]}")
            raise
        finally:
            browser.close()


def test_notebook7_typesets_the_result_and_steps_the_walkthrough(notebook7: tuple[str, Path]) -> None:
    """Notebook 7, as the README promises: demo 03 runs, its result is typeset, a typed value stays as typed and
    the walkthrough panel steps."""
    from playwright.sync_api import expect, sync_playwright

    url, root = notebook7
    notebook = "03_backprop_chain_rule.ipynb"
    shutil.copy(ROOT / "demo_notebooks" / notebook, root / notebook)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/notebooks/{notebook}")
            _run_all(page, wait_for_idle=False)  # Notebook 7 shows no "Idle" text: retry while it starts
            first_cell = page.locator(".jp-Cell").nth(3)  # the micrograd neuron
            first_cell.scroll_into_view_if_needed()
            panel = first_cell.locator(".jacmagic-panel").first
            expect(panel).to_be_visible(timeout=90_000)
            expect(first_cell.locator("mjx-container").first).to_be_visible(timeout=60_000)
            assert "∂" in _typeset_text(first_cell.locator("mjx-container").first)
            box = first_cell.locator(".widget-text input").first
            box.fill("0.4")
            box.press("Enter")
            expect(panel.locator("td").first).not_to_have_text("-1.5", timeout=20_000)
            page.wait_for_timeout(1000)
            assert box.input_value() == "0.4"  # as typed, not 0.3999999999
            step = first_cell.locator(".jacmagic-step")
            expect(step).to_contain_text("Backward step 1 of 2")
            first_cell.get_by_role("button", name="Next ▶").click()
            expect(step).to_contain_text("Backward step 2 of 2", timeout=20_000)
            _screenshot(page, "notebook7_walkthrough")
        except Exception:
            shot = _screenshot(page, "notebook7_failure", for_readme=False)
            print(f"screenshot: {shot}\npage text:\n{page.inner_text('body')[:4000]}")
            raise
        finally:
            browser.close()


DEMOS = sorted(p.name for p in (ROOT / "demo_notebooks").glob("*.ipynb"))
# Every output element, and the panel's derivation once opened: wider inside than shown means a scroll bar or a cut.
_OVERFLOWING = r"""() => [...document.querySelectorAll('.jp-OutputArea-output, .jacmagic-derivation')]
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map(e => [e.scrollWidth, e.clientWidth, [...e.querySelectorAll('mjx-mtr, mtr')]
        .filter(r => r.getBoundingClientRect().right > e.getBoundingClientRect().right + 1)
        .map(r => r.textContent.replace(/\s+/g, '').slice(0, 80)).join(' | ') || e.innerText.slice(0, 80)])"""


def _overflowing_outputs(page: object, cells: object) -> list[tuple[int, int, str]]:
    """Every cell scrolled into view (Lab draws only what is visible) with its derivation opened, then measured."""
    found = []
    for k in range(cells.count()):  # type: ignore[attr-defined]
        cell = cells.nth(k)  # type: ignore[attr-defined]
        cell.scroll_into_view_if_needed()
        for title in cell.locator(".jp-OutputArea").get_by_text("the whole derivation").all():  # not a markdown
            title.click()
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
        found += [tuple(x) for x in page.evaluate(_OVERFLOWING)]  # type: ignore[attr-defined]
    return sorted(set(found))


@pytest.mark.parametrize("app", ["jupyterlab", "notebook7"])
def test_no_output_of_any_demo_is_wider_than_the_page_at_1000_px(app: str, request: pytest.FixtureRequest) -> None:
    """Every demo notebook, run in the app at a 1000 px window (JupyterLab's file browser closed, as on a laptop
    screen: an 820 px output area): no output and no opened derivation scrolls or is cut sideways."""
    from playwright.sync_api import expect, sync_playwright

    url, root = request.getfixturevalue("lab" if app == "jupyterlab" else "notebook7")
    wide: dict[str, list[tuple[int, int, str]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        try:
            for demo in DEMOS:
                notebook = f"wide_{demo}"  # a fresh kernel session: the other tests may have this demo open
                shutil.copy(ROOT / "demo_notebooks" / demo, root / notebook)
                try:
                    if app == "jupyterlab":
                        page.goto(f"{url}/lab/workspaces/wide{demo[:2]}/tree/{notebook}?reset")
                        page.wait_for_selector(".jp-Notebook", timeout=60_000)
                        page.keyboard.press("Control+b")  # close the file browser
                    else:
                        page.goto(f"{url}/notebooks/{notebook}")
                    _run_all(page, wait_for_idle=app == "jupyterlab")
                    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
                    expect(page.locator(".jp-InputPrompt", has_text="[*]:")).to_have_count(0, timeout=180_000)
                    wide[notebook] = _overflowing_outputs(page, cells)
                    panel_math = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-html math")
                    if "--chain" in (ROOT / "demo_notebooks" / demo).read_text():
                        _assert_native_mathml(panel_math)  # every walkthrough formula typeset by the browser
                    boxes = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-text input")
                    artefacts = [v for v in boxes.evaluate_all("bs => bs.map(b => b.value)")
                                 if re.search(r"\d(9{6,}|0{6,})\d*$", v)]
                    assert not artefacts, f"{notebook}: values not as typed: {artefacts}"
                except Exception:
                    shot = _screenshot(page, f"{app}_1000px_failure", for_readme=False)
                    print(f"{notebook}: screenshot {shot}")
                    raise
            _screenshot(page, f"{app}_1000px", for_readme=False)
        finally:
            browser.close()
    assert not any(wide.values()), "\n".join(f"{n}: {w}" for n, w in wide.items() if w)
