"""Changes of variables as a multivariable-calculus course uses them, each number against an independent computation
written here (numpy maps by hand, central differences, scipy's dblquad): --det, R.area, --plot, --hessian, forward
mode."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate

from jacmagic import JacmagicError, jacobian
from tests.conftest import Shell

Map = Callable[..., np.ndarray]

# name: (cell, --wrt, the map in numpy written here, |det J| as a textbook writes it, inputs' sampling range)
CHANGES: dict[str, tuple[str, str, Map, Map]] = {
    "polar": ("x = r*cos(theta)\ny = r*sin(theta)", "r,theta",
              lambda r, t: np.array([r * np.cos(t), r * np.sin(t)]), lambda r, t: r),
    "cylindrical": ("x = r*cos(theta)\ny = r*sin(theta)\nz = h", "r,theta,h",
                    lambda r, t, h: np.array([r * np.cos(t), r * np.sin(t), h]), lambda r, t, h: r),
    "spherical (phi from the z axis)": (
        "x = rho*sin(phi)*cos(theta)\ny = rho*sin(phi)*sin(theta)\nz = rho*cos(phi)", "rho,phi,theta",
        lambda p, f, t: np.array([p * np.sin(f) * np.cos(t), p * np.sin(f) * np.sin(t), p * np.cos(f)]),
        lambda p, f, t: p**2 * np.sin(f)),
    "elliptic": ("x = cosh(mu)*cos(nu)\ny = sinh(mu)*sin(nu)", "mu,nu",
                 lambda m, n: np.array([np.cosh(m) * np.cos(n), np.sinh(m) * np.sin(n)]),
                 lambda m, n: np.sinh(m)**2 + np.sin(n)**2),
    "parabolic": ("x = sigma*tau\ny = (tau**2 - sigma**2)/2", "sigma,tau",
                  lambda s, t: np.array([s * t, (t**2 - s**2) / 2]), lambda s, t: s**2 + t**2),
    "log-polar": ("x = exp(rho)*cos(theta)\ny = exp(rho)*sin(theta)", "rho,theta",
                  lambda p, t: np.array([np.exp(p) * np.cos(t), np.exp(p) * np.sin(t)]), lambda p, t: np.exp(2 * p)),
    "shear": ("x = u + 3*v\ny = v", "u,v", lambda u, v: np.array([u + 3 * v, v]), lambda u, v: 1.0),
    "rotation": ("x = u*cos(0.7) - v*sin(0.7)\ny = u*sin(0.7) + v*cos(0.7)", "u,v",
                 lambda u, v: np.array([u * np.cos(0.7) - v * np.sin(0.7), u * np.sin(0.7) + v * np.cos(0.7)]),
                 lambda u, v: 1.0),
    "not invertible": ("x = u + v\ny = 2*u + 2*v", "u,v", lambda u, v: np.array([u + v, 2 * u + 2 * v]),
                       lambda u, v: 0.0),
    "fold": ("x = u\ny = v**3 - 3*v + u", "u,v", lambda u, v: np.array([u, v**3 - 3 * v + u]),
             lambda u, v: abs(3 * v**2 - 3)),
}


def central_jacobian(f: Map, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    columns = [(f(*(point + h * e)) - f(*(point - h * e))) / (2 * h) for e in np.eye(len(point))]
    return np.array(columns).T


@pytest.mark.parametrize("name", CHANGES)
def test_the_determinant_of_a_change_of_variables_is_numpys_det_of_central_differences(name: str) -> None:
    cell, wrt, f, textbook = CHANGES[name]
    R = jacobian(cell, det=True, wrt=wrt)
    rng = np.random.default_rng(7)
    for point in rng.uniform(0.2, 1.4, size=(10, len(R.inputs))):
        values = dict(zip(wrt.split(","), point))
        want = np.linalg.det(central_jacobian(f, point))
        assert float(R.det.subs({s: values[s.name] for s in R.inputs})) == pytest.approx(want, rel=1e-7, abs=1e-8)
        assert np.linalg.det(R.at(**values)) == pytest.approx(want, rel=1e-7, abs=1e-8)
        assert abs(want) == pytest.approx(textbook(*point), rel=1e-7, abs=1e-8)  # |det J| is the textbook's


@pytest.mark.parametrize(("cell", "textbook"), [
    ("x = r*cos(theta)\ny = r*sin(theta)", "r"),
    ("x = r*cos(theta)\ny = r*sin(theta)\nz = h", "r"),
    ("x = rho*sin(phi)*cos(theta)\ny = rho*sin(phi)*sin(theta)\nz = rho*cos(phi)", "rho**2*sin(phi)"),
    ("x = sigma*tau\ny = (tau**2 - sigma**2)/2", "sigma**2 + tau**2"),
    ("x = exp(rho)*cos(theta)\ny = exp(rho)*sin(theta)", "exp(2*rho)"),
])
def test_the_simplified_determinant_is_the_textbooks_form(cell: str, textbook: str) -> None:
    import sympy as sp

    R = jacobian(cell, det=True)
    assert R.det == sp.sympify(textbook, locals={s.name: s for s in R.inputs})


def test_orientation_is_the_sign_of_det_swapping_the_inputs_flips_it() -> None:
    kept = jacobian("x = r*cos(theta)\ny = r*sin(theta)", det=True, wrt="r,theta").at(r=1.5, theta=0.4)
    flipped = jacobian("x = r*cos(theta)\ny = r*sin(theta)", det=True, wrt="theta,r").at(r=1.5, theta=0.4)
    assert np.linalg.det(kept) == pytest.approx(1.5) and np.linalg.det(flipped) == pytest.approx(-1.5)


# -- R.area: the change-of-variables formula ------------------------------------------------------------------------

def dblquad(function: Callable[[float, float], float], u: tuple[float, float], v: tuple[float, float]) -> float:
    return float(integrate.dblquad(lambda y, x: function(x, y), *u, *v, epsabs=1e-10)[0])


@pytest.mark.parametrize(("name", "domain"), [
    ("polar", {"r": (1.0, 2.0), "theta": (0.0, math.pi / 2)}),
    ("polar", {"r": (0.0, 1.0), "theta": (0.0, 2 * math.pi)}),
    ("parabolic", {"sigma": (0.0, 1.0), "tau": (0.0, 1.0)}),
    ("log-polar", {"rho": (0.0, 1.0), "theta": (0.0, 1.0)}),
    ("elliptic", {"mu": (0.2, 1.0), "nu": (0.0, math.pi)}),
    ("shear", {"u": (0.0, 1.0), "v": (0.0, 2.0)}),
    ("rotation", {"u": (-1.0, 1.0), "v": (0.0, 0.5)}),
])
def test_area_of_a_one_to_one_map_is_the_integral_of_abs_det(name: str, domain: dict[str, tuple[float, float]]
                                                              ) -> None:
    cell, wrt, _, textbook = CHANGES[name]
    check = jacobian(cell, wrt=wrt).area(domain)
    want = dblquad(textbook, *domain.values())
    assert check.one_to_one and "but" not in str(check)
    assert check.integral == pytest.approx(want, rel=1e-4)
    assert check.image_area == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize(("cell", "domain", "det"), [
    ("x = u\ny = v**3 - 3*v + u", {"u": (0.0, 1.0), "v": (-2.0, 2.0)}, lambda u, v: 3 * v**2 - 3),
    ("x = u\ny = v**2", {"u": (0.0, 1.0), "v": (-1.0, 1.0)}, lambda u, v: 2 * v),
    ("x = r*cos(theta)\ny = r*sin(theta)", {"r": (-1.0, 1.0), "theta": (0.0, math.pi)}, lambda r, t: r),
])
def test_area_where_det_changes_sign_says_the_map_folds(cell: str, domain: dict[str, tuple[float, float]],
                                                        det: Callable[[float, float], float]) -> None:
    """The mapped boundary measures the integral of det J with its sign (Green's theorem), not the image's area: the
    old text called it "area of the image" beside the integral of |det J| with no word of why they differ."""
    check = jacobian(cell).area(domain)
    assert check.folds and not check.one_to_one
    assert check.integral == pytest.approx(dblquad(lambda u, v: abs(det(u, v)), *domain.values()), rel=1e-4)
    signed = dblquad(det, *domain.values())
    assert check.signed_integral == pytest.approx(signed, rel=1e-4, abs=1e-6)
    assert check.image_area == pytest.approx(abs(signed), rel=1e-4, abs=1e-6)
    assert "det J takes both signs in this region, so the map folds" in str(check)


@pytest.mark.parametrize(("cell", "domain", "times"), [
    ("x = r*cos(theta)\ny = r*sin(theta)", {"r": (0.5, 1.0), "theta": (0.0, 3 * math.pi)}, 2),
    ("x = u**2 - v**2\ny = 2*u*v", {"u": (-1.0, 1.0), "v": (-1.0, 1.0)}, 2),
    ("x = u**3 - 3*u*v**2\ny = 3*u**2*v - v**3", {"u": (-1.0, 1.0), "v": (-1.0, 1.0)}, 3),
])
def test_area_of_a_map_covering_points_twice_says_so(cell: str, domain: dict[str, tuple[float, float]],
                                                     times: int) -> None:
    check = jacobian(cell).area(domain)
    assert check.windings == times and not check.folds and not check.one_to_one
    assert f"winds {times} times around some of its points" in str(check)


@pytest.mark.parametrize(("domain", "says"), [
    ({"r": (1, 2)}, "area: no range for theta"),
    ({"r": (1, 2), "t": (0, 1)}, "area: t is not a variable of this map"),
    ({"r": (1, 2), "theta": (2 * math.pi, 0)}, "area: theta=6.28319:0 cannot be used: a range needs low < high"),
    ({"r": (1, 2), "theta": (0, math.inf)}, "area: theta=0:inf cannot be used"),
    ({"r": (1, 2), "theta": (0, math.nan)}, "area: theta=0:nan cannot be used"),
    ({"r": (1, 2), "theta": 1}, r"area: theta needs a range \(low, high\), not 1"),
    ({"r": (1, 2), "theta": (0, 1, 2)}, r"area: theta needs a range"),
])
def test_area_refuses_a_domain_it_cannot_use(domain: dict[str, object], says: str) -> None:
    """Was a KeyError, a TypeError, a negative "integral of |det J|" for a reversed range, and nan with numpy's
    RuntimeWarnings for an infinite one."""
    R = jacobian("x = r*cos(theta)\ny = r*sin(theta)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(JacmagicError, match=says):
            R.area(domain)  # type: ignore[arg-type]


@pytest.mark.parametrize(("domain", "says"), [
    ({"t": (0, 1)}, "plot: domain: t is not a variable of this map"),
    ({"k": (0, 1)}, "plot: domain: k is held fixed \\(a constant\\), not an input; the ranges are over u, v"),
    ({"u": (1, 0)}, "plot: domain: u=1:0 cannot be used"),
])
def test_plot_refuses_a_domain_naming_no_input(domain: dict[str, tuple[float, float]], says: str) -> None:
    """A misspelt name in plot(domain=...) was silently ignored (the picture drawn over the default region)."""
    with pytest.raises(JacmagicError, match=says):
        jacobian("x = u + k*v\ny = v", wrt="u,v").plot(domain=domain)


def test_the_domain_option_refuses_a_constant(shell: Shell) -> None:
    ran = shell.run("%%jacobian --plot --no-widgets --wrt u,v --domain k=0:1\nx = u + k*v\ny = v")
    assert "--domain: k is held fixed (a constant)" in str(ran.error)


# -- --plot: drawn without warnings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", [
    "%%jacobian --det --plot --no-widgets --at r=1.2,theta=0.8 --domain r=0.2:2,theta=0:2*pi\n"
    "x = r*cos(theta)\ny = r*sin(theta)",
    "%%jacobian --det --plot --no-widgets --at u=0.5,v=0.2 --domain u=0:1,v=-2:2\nx = u\ny = v**3 - 3*v + u",
    "%%jacobian --det --plot --no-widgets --at u=0.5,v=0.5\nx = u + v\ny = 2*u + 2*v",
    "%%jacobian --det --plot --no-widgets --at rho=1,phi=0.5,theta=0.3\n"
    "x = rho*sin(phi)*cos(theta)\ny = rho*sin(phi)*sin(theta)\nz = rho*cos(phi)",
    "%%jacobian --plot --no-widgets --at x=0,y=0\nf(x, y) = sqrt(x**2 + y**2)",
    "%%jacobian --plot --no-widgets --at x=1,y=2,z=3\nf(x, y, z) = [x*y, y*z]",
    "%%jacobian --det --plot --no-widgets --at u=1,v=1 --domain u=0:2,v=0:2\nx = u*v\ny = v/u",
])
def test_plot_draws_every_kind_of_map_without_warnings(shell: Shell, cell: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ran = shell.ok(cell)
    assert any("image/png" in bundle for bundle in ran.outputs)


# -- --hessian and forward mode -------------------------------------------------------------------------------------

HESSIANS: list[tuple[str, Map]] = [
    ("f(x, y) = x**2*y + sin(x*y)", lambda x, y: np.array([x**2 * y + np.sin(x * y)])),
    ("f(x, y) = atan2(y, x)", lambda x, y: np.array([np.arctan2(y, x)])),
    ("f(x, y, z) = x*y*z + log(1 + x**2 + z**2)", lambda x, y, z: np.array([x * y * z + np.log(1 + x**2 + z**2)])),
    ("f(x, y) = [x**2*y, 5*x + sin(y)]", lambda x, y: np.array([x**2 * y, 5 * x + np.sin(y)])),
    ("x = r*cos(theta)\ny = r*sin(theta)", lambda r, t: np.array([r * np.cos(t), r * np.sin(t)])),
]


@pytest.mark.parametrize(("cell", "f"), HESSIANS)
def test_hessian_is_symmetric_and_second_central_differences(cell: str, f: Map) -> None:
    R = jacobian(cell, hessian=True)
    n, h = len(R.inputs), 1e-4
    for point in np.random.default_rng(3).uniform(0.3, 1.5, size=(5, n)):
        got = np.asarray(R.hessian_at(**{s.name: p for s, p in zip(R.inputs, point)}))
        e = np.eye(n) * h
        want = np.array([[(f(*(point + e[j] + e[k])) - f(*(point + e[j] - e[k])) - f(*(point - e[j] + e[k]))
                           + f(*(point - e[j] - e[k]))) / (4 * h * h) for k in range(n)] for j in range(n)])
        assert np.allclose(got, np.moveaxis(want, -1, 0), rtol=1e-6, atol=1e-6)
        assert np.allclose(got, np.swapaxes(got, -1, -2), atol=1e-12)


def test_hessian_panel_text_gives_eigenvalues_at_the_point(shell: Shell) -> None:
    ran = shell.ok("%%jacobian --hessian --no-widgets --at x=1,y=2\nf(x, y) = x**2*y + x*y**3")
    text = "\n".join(bundle.get("text/plain", "") for bundle in ran.outputs)
    want = np.linalg.eigvalsh(np.array([[2 * 2, 2 * 1 + 3 * 4], [2 * 1 + 3 * 4, 6 * 1 * 2]]))
    assert f"eigenvalues [{want[0]:g}, {want[1]:g}]" in text


@pytest.mark.parametrize(("cell", "at", "direction", "f"), [
    ("u = x**2*y\nf = u + sin(x*y)", {"x": 0.7, "y": 1.3}, {"x": 1, "y": 2},
     lambda x, y: x**2 * y + np.sin(x * y)),
    ("c = cos(theta)\nf = r*c", {"r": 2.0, "theta": 0.3}, {"theta": 1}, lambda r, t: r * np.cos(t)),
    ("def f(x, y):\n    a = np.exp(x)\n    return a * np.cos(y)", {"x": 0.2, "y": 0.4}, {"y": 1},
     lambda x, y: np.exp(x) * np.cos(y)),
])
@pytest.mark.parametrize("mode", ["forward", "both"])
def test_forward_mode_along_a_direction_is_the_directional_derivative(
        cell: str, at: dict[str, float], direction: dict[str, float], f: Map, mode: str) -> None:
    walked = jacobian(cell, chain=True, mode=mode, direction=direction, at=at).walkthrough()  # type: ignore[arg-type]
    p = np.array(list(at.values()))
    v = np.array([direction.get(name, 0.0) for name in at])
    want = (f(*(p + 1e-6 * v)) - f(*(p - 1e-6 * v))) / 2e-6
    assert walked.forward_pass is not None
    assert walked.forward_pass.tangent.ravel() == pytest.approx([want], rel=1e-7)
    assert walked.forward_agrees
