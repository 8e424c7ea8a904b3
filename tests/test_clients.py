"""jacmagic in the real clients: JupyterLab in headless Chromium (Playwright), an exported HTML page, and terminal
IPython. Screenshots land in test-artifacts/; with JACMAGIC_UPDATE_SCREENSHOTS=1 they also replace docs/'s."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    assert_native_mathml,
    exported,
    offline_page,
    run_all,
    screenshot,
    typeset_text,
)

pytestmark = pytest.mark.slow  # a real kernel or browser: seconds per test


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
    text = " ".join((out.stdout + out.stderr).split())  # the lines a terminal's width continued, joined
    # h(g(x)) = (x³, x + x²): forward mode's last tangent is J = (3x², 1 + 2x) = (0.75, 2) at x = 0.5
    for expected in ["reverse mode, from the output back", "forward mode, from the inputs on",
                     "g\u0307 = ∂g/∂x·x\u0307", "h\u0307 = ∂h/∂g·g\u0307 = [0.75, 2]ᵀ (2 x 1)",
                     "cost: for the whole 2 x 1 Jacobian, reverse mode needs 2 passes", "cheaper: forward mode",
                     "∇²f", "saddle", "local Jacobian ∂L/∂W = −1 · 1ᵀ · diag(y) · diag(1/(softmax(Wx))) · "
                     "(diag(s) − s sᵀ) · (I₃₀ ⊗ xᵀ) (1 x 1,200)", "(1 x 1,200)"]:
        assert expected in text, text
    for stray in ["VBox", "Widget", "Traceback", "Error", "<jacmagic", "object at 0x", "**", "Heaviside("]:
        assert stray not in text, text  # Unicode math, never Python syntax
    assert "∂a/∂z = H(z)" in text and "z/√(z² + 1)" in text  # a number's local Jacobian: its formula, no diag


def _neuron(x1: float, w1: float, x2: float, w2: float) -> float:
    """Demo 03's micrograd neuron, o = tanh(x1 w1 + x2 w2 + b)."""
    return math.tanh(x1 * w1 + x2 * w2 + 6.8813735870195432)


def _neuron_gradient(x1: float) -> list[float]:
    """∂o/∂(x1, w1, x2, w2) by central differences at the demo's point with x1 moved."""
    point, h = [x1, -3.0, 0.0, 1.0], 1e-6
    return [(_neuron(*[v + h * (k == j) for k, v in enumerate(point)])
             - _neuron(*[v - h * (k == j) for k, v in enumerate(point)])) / (2 * h) for j in range(4)]


def _neuron_gradients(step: object) -> list[float]:
    """The walkthrough panel's result page: the four gradients it shows (bold, after the page's title). The kernel
    handles the typed value before the clicks that lead here, so they are at the typed point."""
    from playwright.sync_api import expect

    expect(step).to_contain_text("Result", timeout=20_000)  # type: ignore[arg-type]
    return [float(t) for t in step.locator("b").all_inner_texts()[1:5]]  # type: ignore[attr-defined]


def test_exported_html_shows_the_typeset_jacobian_and_the_panel_offline(tmp_path: Path) -> None:
    """Executed with widget state saved, exported with nbconvert, opened in Chromium with no network."""
    html_file = exported("02_evaluate_at_a_point.ipynb", tmp_path)
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

    for view in offline_page(html_file):
        expect(view.locator(".jacmagic-panel").first).to_be_visible(timeout=60_000)  # type: ignore[attr-defined]
        expect(view.locator(".MathJax_CHTML").first).to_be_visible(timeout=60_000)  # type: ignore[attr-defined]
        assert "0.7071" in view.locator(".jacmagic-panel").first.inner_text()  # type: ignore[attr-defined]
        screenshot(view, "exported_html_offline", for_readme=False)


def test_exported_html_shows_the_walkthrough_and_its_typeset_derivation_offline(tmp_path: Path) -> None:
    """Demo 03 exported with its widget state: the walkthrough panel renders, its step formulas and, opened, its
    whole derivation are MathML typeset by the browser (no MathJax inside the widgets, no network)."""
    from playwright.sync_api import expect

    for view in offline_page(exported("03_backprop_chain_rule.ipynb", tmp_path)):
        step = view.locator(".jacmagic-step").first  # type: ignore[attr-defined]
        expect(step).to_contain_text("Backward step 1 of 2", timeout=60_000)
        assert_native_mathml(step.locator("math"))
        view.get_by_text("the whole derivation").first.click()  # type: ignore[attr-defined]
        derivation = view.locator(".jacmagic-derivation").first  # type: ignore[attr-defined]
        expect(derivation).to_be_visible(timeout=20_000)
        assert_native_mathml(derivation.locator("math"))
        expect(derivation).to_contain_text("reverse mode")
        assert "tanh" in (derivation.text_content() or "")
        derivation.scroll_into_view_if_needed()
        screenshot(view, "exported_html_walkthrough")



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
            run_all(page, wait_for_idle=True)
            first_cell = page.locator(".jp-Cell").nth(3)  # the micrograd neuron
            first_cell.scroll_into_view_if_needed()
            step = first_cell.locator(".jacmagic-step")
            expect(step).to_contain_text("Backward step 1 of 2", timeout=90_000)
            math_out = first_cell.locator("mjx-container").first
            expect(math_out).to_be_visible(timeout=60_000)
            assert "∂" in typeset_text(math_out) or "tanh" in typeset_text(first_cell)
            screenshot(page, "jupyterlab_result_and_panel")

            # the neuron's gradient at x1 = 2 is (-1.5, 1, 0.5, 0); type x1 = 1 and read the new gradients
            first_cell.locator(".widget-text input").first.fill("1")
            first_cell.locator(".widget-text input").first.press("Enter")
            first_cell.get_by_role("button", name="Next ▶").click()
            expect(step).to_contain_text("Backward step 2 of 2", timeout=20_000)
            screenshot(page, "jupyterlab_walkthrough_step")
            first_cell.get_by_role("button", name="Next ▶").click()
            assert _neuron_gradients(step) == pytest.approx(_neuron_gradient(1.0), rel=1e-3, abs=1e-4)
        except Exception:
            shot = screenshot(page, "jupyterlab_failure", for_readme=False)
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
            run_all(page, wait_for_idle=True)
            cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(4)  # the %%jacobian cell
            cell.scroll_into_view_if_needed()
            step = cell.locator(".jacmagic-step")
            expect(step).to_contain_text("Backward step 1 of 4", timeout=90_000)
            # shown once: the derivation is in the panel, collapsed; opened, the browser typesets its MathML
            cell.get_by_text("the whole derivation").click()
            math = cell.locator(".jacmagic-derivation math")
            expect(math.first).to_be_visible(timeout=60_000)
            assert_native_mathml(math)
            typeset = "".join(m.text_content() or "" for m in math.all())
            assert "⊗" in typeset and "∂" in typeset and "softmax" in typeset
            assert cell.locator("mjx-merror").count() == 0
            outside = cell.locator(".jp-OutputArea-output:not(:has(.jacmagic-derivation)) mjx-container")
            assert "⊗" not in "".join(typeset_text(m) for m in outside.all())  # not shown a second time
            for _ in range(3):
                cell.get_by_role("button", name="Next ▶").click()
            expect(step).to_contain_text("Backward step 4 of 4", timeout=20_000)
            assert_native_mathml(step.locator("math"))
            assert "I16⊗xT" in re.sub(r"\s+", "", step.text_content() or "")
            screenshot(page, "jupyterlab_classifier_walkthrough")
        except Exception:
            shot = screenshot(page, "jupyterlab_classifier_failure", for_readme=False)
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
            run_all(page, wait_for_idle=False)  # Notebook 7 shows no "Idle" text: retry while it starts
            first_cell = page.locator(".jp-Cell").nth(3)  # the micrograd neuron
            first_cell.scroll_into_view_if_needed()
            step = first_cell.locator(".jacmagic-step")
            expect(step).to_contain_text("Backward step 1 of 2", timeout=90_000)
            expect(first_cell.locator("mjx-container").first).to_be_visible(timeout=60_000)
            assert "∂" in typeset_text(first_cell.locator("mjx-container").first)
            box = first_cell.locator(".widget-text input").first
            box.fill("0.4")
            box.press("Enter")
            first_cell.get_by_role("button", name="Next ▶").click()
            expect(step).to_contain_text("Backward step 2 of 2", timeout=20_000)
            first_cell.get_by_role("button", name="Next ▶").click()
            assert _neuron_gradients(step) == pytest.approx(_neuron_gradient(0.4), rel=1e-3, abs=1e-4)
            assert box.input_value() == "0.4"  # as typed, not 0.3999999999
            screenshot(page, "notebook7_walkthrough")
        except Exception:
            shot = screenshot(page, "notebook7_failure", for_readme=False)
            print(f"screenshot: {shot}\npage text:\n{page.inner_text('body')[:4000]}")
            raise
        finally:
            browser.close()
