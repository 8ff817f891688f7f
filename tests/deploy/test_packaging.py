"""Packaging: license, declared dependencies, pins, and what the wheel carries."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = ("collector", "influx", "analyzers", "api", "simulators", "fabricscope")


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = PYPROJECT["project"]
    raw = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(r) for r in raw]


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(name)] = version
    return pins


def _closure(reqs: list[Requirement]) -> set[str]:
    """Names of the installed distributions `reqs` pull in, transitively (markers honoured)."""
    seen: set[str] = set()
    todo = list(reqs)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        for sub in md.requires(name) or []:
            sub_req = Requirement(sub)
            if sub_req.marker and not sub_req.marker.evaluate({"extra": ""}):
                continue
            todo.append(sub_req)
    return seen


def test_license_file_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_every_third_party_import_is_declared() -> None:
    """A module the product imports must come from a distribution it declares, not only from
    one that a declared dependency happens to pull in today."""
    declared = {canonicalize_name(r.name) for r in _requirements()}
    providers = md.packages_distributions()
    stdlib = sys.stdlib_module_names
    missing: dict[str, str] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in stdlib or top in PACKAGES or top == "__future__":
                        continue
                    dists = {canonicalize_name(d) for d in providers.get(top, [])}
                    if not dists & declared:
                        missing[top] = str(path.relative_to(ROOT))
    assert not missing, f"imported but not declared in pyproject dependencies: {missing}"


def test_constraints_pin_everything_installed() -> None:
    """constraints.txt pins the whole runtime + dev closure; inside the project venv (what
    scripts/setup.sh builds) the installed versions are exactly the pinned ones."""
    pins = _constraints()
    closure = _closure(_requirements() + _requirements("dev"))
    unpinned = sorted(closure - set(pins))
    assert not unpinned, f"add to constraints.txt (name==version): {unpinned}"
    assert {"setuptools", "wheel"} <= set(pins), "the build backend is pinned too"
    if sys.prefix == sys.base_prefix:
        pytest.skip("not in a venv: the system site-packages is not ours to pin")
    drift = {n: (md.version(n), pins[n]) for n in sorted(closure) if md.version(n) != pins[n]}
    assert not drift, f"installed != pinned (installed, pinned): {drift}"


def test_setup_installs_into_the_venv_with_the_constraints() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "-m venv" in setup and '"$VENV/bin/python" -m pip install' in setup
    assert 'PIP_CONSTRAINT="$ROOT/constraints.txt"' in setup
    assert "|| true" not in setup, "a failing step must stop setup, not be hidden"
    test = (ROOT / "scripts" / "test.sh").read_text()
    assert "PY=.venv/bin/python" in test and '"$PY" -m pytest' in test
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_wheel_carries_dashboards_license_and_declared_deps(tmp_path: Path) -> None:
    """Build the wheel as a user would (`pip wheel --no-deps .`) and look inside."""
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "constraints.txt")}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip("the build backend could not be fetched (no package index)")
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("fabricscope-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    shipped = {Path(n).name for n in names if "/data/share/fabricscope/grafana/dashboards/" in n}
    assert shipped == {p.name for p in (ROOT / "grafana" / "dashboards").glob("*.json")}
    assert any(n.endswith("grafana/provisioning/datasources/influxdb.yml") for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: Apache-2.0" in meta
    requires = {
        canonicalize_name(Requirement(m.group(1)).name)
        for m in re.finditer(r"^Requires-Dist: (.+)$", meta, re.M)
    }
    assert {"starlette", "anyio", "urllib3", "fastapi"} <= requires
