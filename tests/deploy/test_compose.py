"""docker-compose.yml, docker-compose.demo.yml, .env.example, Dockerfile: static checks.

No Docker engine is needed: the Compose files are interpolated with .env.example, merged and
validated against the vendored Compose Specification schema the way compose-go does it (see
README.md beside this file), then checked for the properties the deployment relies on.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fabricscope.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASE = ROOT / "docker-compose.yml"
DEMO = ROOT / "docker-compose.demo.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA = HERE / "compose-spec.json"

FABRICSCOPE_SERVICES = ("collector", "poller", "analyzers", "api")
DEMO_SERVICES = ("fabric-sim",)
SPOOL = "/var/lib/fabricscope/spool"
SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "API_KEY")


# ------------------------------------------------------------------ Compose interpolation
class InterpolationError(ValueError):
    pass


class MissingRequired(InterpolationError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


_REF = re.compile(r"\$(?:(?P<esc>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


def interpolate_str(text: str, env: Mapping[str, str], seen: set[str] | None = None) -> str:
    """Compose's variable substitution for one string (no nesting: we do not use it)."""

    def repl(m: re.Match[str]) -> str:
        if m["esc"]:
            return "$"
        if m["named"]:
            if seen is not None:
                seen.add(m["named"])
            return env.get(m["named"], "")
        b = _BRACED.fullmatch(m["braced"])
        if b is None:
            raise InterpolationError(f"invalid interpolation ${{{m['braced']}}} in {text!r}")
        name, op, arg = b["name"], b["op"], b["arg"] or ""
        if "$" in arg:
            raise InterpolationError(f"nested interpolation in {text!r} (keep defaults literal)")
        if seen is not None:
            seen.add(name)
        val = env.get(name)
        nonempty = val is not None and val != ""
        if op is None:
            return val or ""
        if op == ":-":
            return val if nonempty else arg  # type: ignore[return-value]
        if op == "-":
            return val if val is not None else arg
        if op == ":?":
            if not nonempty:
                raise MissingRequired(name, arg)
            return val  # type: ignore[return-value]
        if op == "?":
            if val is None:
                raise MissingRequired(name, arg)
            return val
        if op == ":+":
            return arg if nonempty else ""
        return arg if val is not None else ""  # "+"

    return _REF.sub(repl, text)


def interpolate(node: Any, env: Mapping[str, str], seen: set[str] | None = None) -> Any:
    """Values only, recursively (Compose does not interpolate keys)."""
    if isinstance(node, dict):
        return {k: interpolate(v, env, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env, seen) for v in node]
    if isinstance(node, str):
        return interpolate_str(node, env, seen)
    return node


_REPLACED_SEQUENCES = {"command", "entrypoint", "test"}


def merge(base: Any, over: Any, key: str = "") -> Any:
    """The Compose merge rules our override relies on."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v, k) if k in base else v
        return out
    if isinstance(base, list) and isinstance(over, list):
        if key in _REPLACED_SEQUENCES:
            return over
        return base + [x for x in over if x not in base]
    return over


def read_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path.name}:{n}: {raw!r}"
        assert key not in out, f"{path.name}:{n}: {key} set twice"
        out[key] = value
    return out


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: top level must be a mapping"
    return data


def load_project(*files: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parse → interpolate → merge each file in order (compose-go's loadYamlFile)."""
    env = read_env_file(ENV_EXAMPLE) if env is None else env
    project: dict[str, Any] = {}
    for f in files:
        project = merge(project, interpolate(load_yaml(f), env))
    return project


# ------------------------------------------------------------------ schema
_GO_DURATION = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)")


def go_duration(value: object) -> bool:
    if not isinstance(value, str):
        return True
    v = value.lstrip("+-")
    return v == "0" or (bool(v) and re.fullmatch(f"(?:{_GO_DURATION.pattern})+", v) is not None)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("duration")(go_duration)  # compose-go registers this custom format
    return cls(schema, format_checker=checker)


def errors_of(validator: jsonschema.protocols.Validator, doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    ]


def test_vendored_schema_matches_readme() -> None:
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    readme = (HERE / "README.md").read_text()
    assert f"`{digest}`" in readme, "compose-spec.json changed: update origin/version/sha256"
    schema = json.loads(SCHEMA.read_text())
    assert schema.get("title") == "Compose Specification"
    assert "service" in schema["$defs"]


def test_schema_really_rejects_bad_files(validator: jsonschema.protocols.Validator) -> None:
    """Guards against a validator that accepts anything (wrong draft, empty schema …)."""
    good = load_project(BASE)
    assert errors_of(validator, good) == []
    typo = merge(good, {"services": {"collector": {"restartt": "always"}}})
    assert errors_of(validator, typo)
    bad_ports = merge(good, {"services": {"collector": {"ports": {"6343": "udp"}}}})
    assert errors_of(validator, bad_ports)
    bad_dep = json.loads(json.dumps(good))
    bad_dep["services"]["api"]["depends_on"]["influxdb"]["condition"] = "healthy"
    assert errors_of(validator, bad_dep)


def test_base_file_validates(validator: jsonschema.protocols.Validator) -> None:
    assert errors_of(validator, load_project(BASE)) == []


def test_demo_override_merged_validates(validator: jsonschema.protocols.Validator) -> None:
    # compose-go validates the merged mapping after each file.
    assert errors_of(validator, load_project(BASE, DEMO)) == []
    merged = load_project(BASE, DEMO)
    assert set(DEMO_SERVICES) <= set(merged["services"])
    poller = merged["services"]["poller"]
    assert poller["environment"]["FABRICSCOPE_APIC_URLS"] == "http://fabric-sim:8443"
    # merged, not replaced: the base environment and dependencies survive the override
    assert poller["environment"]["FABRICSCOPE_INFLUX_URL"] == "http://influxdb:8086"
    assert set(poller["depends_on"]) == {"influxdb", "influx-tokens", "fabric-sim"}
    sim = merged["services"]["fabric-sim"]
    # The fabric's sFlow agents send to the collector service, as switches would to :6343.
    assert sim["command"][sim["command"].index("--sflow") + 1] == "collector:6343"
    assert sim["depends_on"]["collector"]["condition"] == "service_healthy"
    assert merged["services"]["collector"]["environment"]["FABRICSCOPE_SFLOW_ALLOW"] == ""


# ------------------------------------------------------------------ variables and secrets
def referenced_vars() -> set[str]:
    seen: set[str] = set()
    for f in (BASE, DEMO):
        interpolate(load_yaml(f), read_env_file(ENV_EXAMPLE), seen)
    return seen


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for v in node.values():
            yield from strings_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings_in(v)
    elif isinstance(node, str):
        yield node


def required_vars() -> set[str]:
    """Names used as ${VAR:?…} or ${VAR?…} in the parsed files (comments do not count)."""
    pat = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")
    return {m for f in (BASE, DEMO) for s in strings_in(load_yaml(f)) for m in pat.findall(s)}


def test_required_secrets_are_required_and_listed() -> None:
    required = required_vars()
    assert {
        "INFLUX_ADMIN_PASSWORD",
        "INFLUX_ADMIN_TOKEN",
        "GRAFANA_ADMIN_PASSWORD",
    } <= required
    # The services' tokens are made by the influx-tokens step, not set by hand (issue #12).
    assert not {"INFLUX_TOKEN", "GRAFANA_INFLUX_TOKEN"} & set(read_env_file(ENV_EXAMPLE))
    example = read_env_file(ENV_EXAMPLE)
    assert required <= set(example), f"missing in .env.example: {required - set(example)}"
    for name in sorted(required):
        env = {k: v for k, v in example.items() if k != name}
        with pytest.raises(MissingRequired) as info:
            load_project(BASE, DEMO, env=env)
        assert info.value.name == name
        with pytest.raises(MissingRequired):  # set but empty is missing too (":?")
            load_project(BASE, DEMO, env={**env, name: ""})


def test_env_example_lists_exactly_the_variables_used() -> None:
    used = referenced_vars()
    listed = set(read_env_file(ENV_EXAMPLE))
    assert used - listed == set(), f"used but not in .env.example: {sorted(used - listed)}"
    assert listed - used == set(), f"in .env.example but unused: {sorted(listed - used)}"


def _is_secret_name(name: str) -> bool:
    # *_FILE names a file that holds a secret: a path, not a secret itself.
    return any(w in name.upper() for w in SECRET_WORDS) and not name.upper().endswith("_FILE")


def test_env_example_holds_placeholders_only() -> None:
    for key, value in read_env_file(ENV_EXAMPLE).items():
        if _is_secret_name(key):
            assert value.startswith("CHANGE_ME"), f"{key} must be a CHANGE_ME placeholder"
    assert ENV_EXAMPLE.read_text().count("REQUIRED") >= len(required_vars())


_ONLY_REFS = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+][^}$]*)?\})+")
# InfluxDB 2.x tokens are 86 base64 characters + "==", 3.x ones start with apiv3_, generated
# keys are long hex: a run of 32+ token characters mixing letters and digits, or apiv3_….
_RUN = re.compile(r"apiv3_[A-Za-z0-9_-]+|[A-Za-z0-9+/_-]{32,}={0,2}")


class _TokenScan:
    @staticmethod
    def findall(text: str) -> list[str]:
        return [
            m
            for m in _RUN.findall(text)
            if m.startswith("apiv3_")
            or (sum(c.isdigit() for c in m) >= 3 and sum(c.isalpha() for c in m) >= 3)
        ]


_TOKENISH = _TokenScan()


def iter_env(doc: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for name, svc in doc.get("services", {}).items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), f"{name}: environment must be a mapping (merge rules)"
        for key, value in env.items():
            yield name, key, value


def test_no_literal_secrets_in_compose_files() -> None:
    for f in (BASE, DEMO):
        doc = load_yaml(f)  # raw, before interpolation
        for svc, key, value in iter_env(doc):
            if _is_secret_name(key) and value not in ("", None):
                assert isinstance(value, str) and _ONLY_REFS.fullmatch(value), (
                    f"{f.name}: {svc}.{key} must come from a ${{VAR}} reference, not a literal"
                )
                # and a non-empty default value would be a literal secret too
                for ref in re.findall(r"\$\{([^}]*)\}", value):
                    b = _BRACED.fullmatch(ref)
                    assert b is not None
                    assert b["op"] not in (":-", "-", ":+", "+") or not b["arg"], (
                        f"{f.name}: {svc}.{key} has a default value"
                    )


DEPLOY_FILES = (BASE, DEMO, ENV_EXAMPLE, DOCKERFILE, DOCKERIGNORE)


def test_no_token_like_literals_in_deploy_files() -> None:
    files = [*DEPLOY_FILES, *sorted((ROOT / "grafana").rglob("*.y*ml"))]
    files += sorted((ROOT / "grafana").rglob("*.json"))
    assert len(files) > len(DEPLOY_FILES)
    for f in files:
        found = _TOKENISH.findall(f.read_text())
        assert not found, f"{f.relative_to(ROOT)}: token-like literal(s) {len(found)}"


def test_secret_scanner_catches_literals() -> None:
    """The scan above must be able to fail: feed it what a leaked token looks like."""
    fake = "FABRICSCOPE_INFLUX_TOKEN: " + "Qk5" * 28 + "=="
    assert _TOKENISH.findall(fake)
    assert _TOKENISH.findall("token: apiv3_abcdefABCDEF0123")
    assert not _ONLY_REFS.fullmatch("hunter2")
    assert _ONLY_REFS.fullmatch("${INFLUX_TOKEN:?set it}")


# ------------------------------------------------------------------ services
@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return load_project(BASE)


@pytest.fixture(scope="module")
def demo_project() -> dict[str, Any]:
    return load_project(BASE, DEMO)


def test_services_present(project: dict[str, Any]) -> None:
    assert set(project["services"]) == {
        "influxdb", "influx-tokens", "grafana", *FABRICSCOPE_SERVICES
    }  # fmt: skip
    assert project["services"]["influxdb"]["image"] == "influxdb:2.7"
    assert project["services"]["grafana"]["image"].startswith("grafana/grafana-oss:")
    cmds = {s: project["services"][s]["command"] for s in FABRICSCOPE_SERVICES}
    assert cmds == {
        "collector": ["sflow", "listen"],
        "poller": ["apic", "poll"],
        "analyzers": ["analyze"],
        "api": ["serve"],
    }


def test_fabricscope_services_share_one_image(demo_project: dict[str, Any]) -> None:
    svcs = demo_project["services"]
    names = (*FABRICSCOPE_SERVICES, *DEMO_SERVICES, "influx-tokens")
    images = {svcs[n]["image"] for n in names}
    assert images == {"fabricscope:local"}, images
    for n in names:
        build = svcs[n]["build"]
        assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile"


def _port(spec: Any) -> tuple[str, str, str]:
    """Short syntax → (published, target, protocol); only the forms we use."""
    if isinstance(spec, dict):
        return str(spec.get("published", "")), str(spec["target"]), spec.get("protocol", "tcp")
    text, _, proto = str(spec).partition("/")
    parts = text.split(":")
    return parts[-2] if len(parts) > 1 else "", parts[-1], proto or "tcp"


def test_udp_6343_published_by_the_collector(project: dict[str, Any]) -> None:
    ports = [_port(p) for p in project["services"]["collector"]["ports"]]
    assert ("6343", "6343", "udp") in ports
    env = project["services"]["collector"]["environment"]
    assert env["FABRICSCOPE_SFLOW_LISTEN"].endswith(":6343")


def test_http_ports_bind_to_loopback_by_default(project: dict[str, Any]) -> None:
    for name in ("api", "grafana", "influxdb"):
        for spec in project["services"][name]["ports"]:
            assert str(spec).startswith("127.0.0.1:"), f"{name}: {spec}"
    assert "127.0.0.1:8080:8080" in project["services"]["api"]["ports"]


def test_named_volumes_declared_and_mounted(project: dict[str, Any]) -> None:
    declared = set(project.get("volumes") or {})
    assert {"influxdb-data", "grafana-data", "fabricscope-spool"} <= declared
    used: set[str] = set()
    for name, svc in project["services"].items():
        for vol in svc.get("volumes", []):
            source, _, rest = str(vol).partition(":")
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind source {source} missing"
                continue
            assert source in declared, f"{name}: volume {source} not declared"
            used.add(source)
    assert declared == used, f"declared but unused: {declared - used}"
    assert "influxdb-data:/var/lib/influxdb2" in project["services"]["influxdb"]["volumes"]
    for name in FABRICSCOPE_SERVICES:
        svc = project["services"][name]
        assert f"fabricscope-spool:{SPOOL}" in svc["volumes"]
        assert svc["environment"]["FABRICSCOPE_SPOOL_DIR"] == SPOOL


def test_restart_policies(demo_project: dict[str, Any]) -> None:
    for name, svc in demo_project["services"].items():
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), name


def test_every_service_has_a_health_check(demo_project: dict[str, Any]) -> None:
    for name, svc in demo_project["services"].items():
        hc = svc.get("healthcheck")
        assert hc and not hc.get("disable"), f"{name}: no health check"
        test = hc["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), name
        for key in ("interval", "timeout", "start_period"):
            assert key in hc and go_duration(hc[key]), f"{name}.healthcheck.{key}"
        if test[0] == "CMD" and test[1] == "python":
            assert test[2] == "-c"
            compile(test[3], f"<{name} healthcheck>", "exec")  # the inline code is valid Python
    svcs = demo_project["services"]
    assert svcs["influxdb"]["healthcheck"]["test"] == ["CMD", "influx", "ping"]
    api_test = svcs["api"]["healthcheck"]["test"]
    assert "urllib" in api_test[3] and "/api/v1/health" in api_test[3]


def test_depends_on_waits_for_healthy_services(demo_project: dict[str, Any]) -> None:
    svcs = demo_project["services"]
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: use the long depends_on syntax"
        for dep, cond in deps.items():
            assert dep in svcs, f"{name} depends on unknown service {dep}"
            if dep == "influx-tokens":  # one-shot: wait until it has made the tokens
                assert cond["condition"] == "service_completed_successfully", name
                continue
            assert cond["condition"] == "service_healthy", f"{name} → {dep}"
            assert "healthcheck" in svcs[dep], f"{name} waits for {dep}, which has no check"
    for name in (*FABRICSCOPE_SERVICES, "grafana"):
        assert "influxdb" in svcs[name]["depends_on"]
        assert "influx-tokens" in svcs[name]["depends_on"], name

    # no cycles
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        assert state.get(n) != 1, f"depends_on cycle through {n}"
        if state.get(n) == 2:
            return
        state[n] = 1
        for d in svcs[n].get("depends_on", {}):
            visit(d)
        state[n] = 2

    for n in svcs:
        visit(n)


# ------------------------------------------------------------------ settings names and values
SETTINGS_ENV = {f"FABRICSCOPE_{name.upper()}" for name in Settings.model_fields}


def test_fabricscope_env_names_are_settings_fields(demo_project: dict[str, Any]) -> None:
    names = {k for _, k, _ in iter_env(demo_project) if k.startswith("FABRICSCOPE_")}
    names |= set(re.findall(r"\bFABRICSCOPE_[A-Z0-9_]+", DOCKERFILE.read_text()))
    names |= {k for k in read_env_file(ENV_EXAMPLE) if k.startswith("FABRICSCOPE_")}
    names.discard("FABRICSCOPE_UID")  # Dockerfile build args, not settings
    names.discard("FABRICSCOPE_GID")
    names.discard("FABRICSCOPE_IMAGE")  # compose variable naming the image tag
    unknown = names - SETTINGS_ENV
    assert not unknown, f"not fields of fabricscope.settings.Settings: {sorted(unknown)}"


@pytest.mark.parametrize("service", FABRICSCOPE_SERVICES)
def test_service_environment_loads_as_settings(
    project: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The container environment, as Compose would pass it, parses into Settings for 2.7, the
    token read from the file the influx-tokens step writes on the volume the service mounts."""
    from influx.compat import query_params, write_params

    for key in list(os.environ):
        if key.startswith("FABRICSCOPE_"):
            monkeypatch.delenv(key)
    env = project["services"][service]["environment"]
    token_file = env["FABRICSCOPE_INFLUX_TOKEN_FILE"]
    assert token_file == "/run/fabricscope/influx-rw/token"
    assert (
        "influx-token-rw:/run/fabricscope/influx-rw:ro" in project["services"][service]["volumes"]
    )
    assert "FABRICSCOPE_INFLUX_TOKEN" not in env
    token = "scoped-rw-token-from-the-init-step"
    (tmp_path / "token").write_text(token + "\n")
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("FABRICSCOPE_INFLUX_TOKEN_FILE", str(tmp_path / "token"))
    s = Settings()
    init = project["services"]["influxdb"]["environment"]
    assert s.influx_url == "http://influxdb:8086"
    assert s.influx_org == init["DOCKER_INFLUXDB_INIT_ORG"]
    assert s.influx_bucket == init["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert s.spool_dir == SPOOL
    assert s.influx_token.get_secret_value() == token
    w = write_params(s, 2)
    assert (w.url, w.org, w.bucket) == ("http://influxdb:8086", s.influx_org, s.influx_bucket)
    q = query_params(s, 2)
    assert q.db == init["DOCKER_INFLUXDB_INIT_BUCKET"]  # virtual DBRP: database = bucket
    assert q.rp == ""  # → the default mapping, rp autogen
    assert q.headers == {"Authorization": f"Token {token}"}
    assert q.auth is None


def test_influxdb_setup_environment(project: dict[str, Any]) -> None:
    env = project["services"]["influxdb"]["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for key in ("USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN", "RETENTION"):
        assert env[f"DOCKER_INFLUXDB_INIT_{key}"], key
    raw = load_yaml(BASE)["services"]["influxdb"]["environment"]
    assert raw["DOCKER_INFLUXDB_INIT_RETENTION"].startswith("${INFLUX_RETENTION:-")
    # influx CLI durations: Go units plus d and w; 0 = infinite
    retention = env["DOCKER_INFLUXDB_INIT_RETENTION"]
    assert re.fullmatch(r"0|(?:\d+(?:ns|us|µs|ms|s|m|h|d|w))+", retention), retention


def test_grafana_service(project: dict[str, Any]) -> None:
    g = project["services"]["grafana"]
    env = g["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"]
    raw = load_yaml(BASE)["services"]["grafana"]["environment"]
    assert raw["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert "FABRICSCOPE_INFLUX_TOKEN" not in raw  # from the read-only token file instead
    assert "influx-token-ro:/run/fabricscope/influx-ro:ro" in g["volumes"]
    mounts = {str(v).split(":")[1]: str(v) for v in g["volumes"]}
    assert (
        mounts["/etc/grafana/provisioning"] == "./grafana/provisioning:/etc/grafana/provisioning:ro"
    )
    assert mounts["/var/lib/grafana/dashboards"].startswith("./grafana/dashboards:")
    assert mounts["/var/lib/grafana/dashboards"].endswith(":ro")


# ------------------------------------------------------------------ health check code really works
def _hc_code(project: dict[str, Any], service: str) -> str:
    return str(project["services"][service]["healthcheck"]["test"][3])


def _run(code: str) -> int:
    return subprocess.run([sys.executable, "-c", code], timeout=30, capture_output=True).returncode


def test_grafana_entrypoint_exports_the_read_only_token(
    project: dict[str, Any], tmp_path: Path
) -> None:
    """The grafana entrypoint (after Compose's $$ → $) puts the token file's content into the
    variable the datasource provisioning reads, then execs Grafana's own /run.sh."""
    g = project["services"]["grafana"]
    assert g["entrypoint"][:2] == ["/bin/sh", "-c"]
    script = g["entrypoint"][2]
    token = tmp_path / "token"
    token.write_text("ro-token-value")
    run_sh = tmp_path / "run.sh"
    run_sh.write_text('#!/bin/sh\nprintf %s "$FABRICSCOPE_INFLUX_TOKEN"\n')
    run_sh.chmod(0o755)
    script = script.replace("/run/fabricscope/influx-ro/token", str(token))
    script = script.replace("exec /run.sh", f"exec {run_sh}")
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ro-token-value"
    ds = (ROOT / "grafana" / "provisioning" / "datasources" / "influxdb.yml").read_text()
    assert "Token ${FABRICSCOPE_INFLUX_TOKEN}" in ds


def test_influx_tokens_service(project: dict[str, Any]) -> None:
    t = project["services"]["influx-tokens"]
    assert t["entrypoint"] == ["python", "-m", "fabricscope.influx_tokens"]
    assert t["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert t["environment"]["INFLUX_ADMIN_TOKEN"]
    assert set(t["volumes"]) == {
        "influx-token-rw:/run/fabricscope/influx-rw",
        "influx-token-ro:/run/fabricscope/influx-ro",
    }
    # the admin token reaches no other service
    for name, svc in project["services"].items():
        if name not in ("influx-tokens", "influxdb"):
            assert "INFLUX_ADMIN_TOKEN" not in svc.get("environment", {}), name
            values = [str(v) for v in svc.get("environment", {}).values()]
            assert t["environment"]["INFLUX_ADMIN_TOKEN"] not in values, name
    # the read-write token volume is not mounted by Grafana, the read-only one only by it
    for name, svc in project["services"].items():
        vols = " ".join(str(v) for v in svc.get("volumes", []))
        if name == "grafana":
            assert "influx-token-rw" not in vols
        elif name != "influx-tokens":
            assert "influx-token-ro" not in vols


def test_api_health_check_needs_http_200(project: dict[str, Any]) -> None:
    code = _hc_code(project, "api")
    status = {"code": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(status["code"] if self.path == "/api/v1/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        probe = code.replace("127.0.0.1:8080", f"127.0.0.1:{server.server_address[1]}")
        assert probe != code
        assert _run(probe) == 0
        status["code"] = 503
        assert _run(probe) != 0
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ Dockerfile
def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) >= 2 and any(" AS builder" in f for f in froms), "multi-stage"
    assert "ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm" in lines
    assert re.search(r"pip wheel .*--wheel-dir[= ]/wheels \.", text)
    # reproducible rebuilds: the base image pinned to a patch release, every Python package to
    # the constraints file the tests install from (scripts/setup.sh)
    assert re.search(r"ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+", text)
    assert re.search(
        r"PIP_CONSTRAINT=/src/constraints.txt pip wheel --constraint constraints.txt", text
    )
    assert "constraints.txt" in (ROOT / "scripts" / "setup.sh").read_text()
    assert re.search(r"pip install --no-index --find-links[= ]/wheels fabricscope", text)
    users = [ln.split(None, 1)[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0")
    uid = re.search(r"ARG FABRICSCOPE_UID=(\d+)", text)
    assert uid and int(uid.group(1)) >= 1000
    assert "useradd --system --uid" in text and " fabricscope" in text
    assert 'ENTRYPOINT ["fabricscope"]' in lines
    exposed = {p for ln in lines if ln.startswith("EXPOSE ") for p in ln.split()[1:]}
    assert exposed == {"6343/udp", "8080"}
    # the last stage is the runtime one (what `build: .` produces)
    assert froms[-1].startswith("FROM ${PYTHON_IMAGE} AS runtime")


def test_image_wheel_carries_the_native_fast_paths(tmp_path: Path) -> None:
    """The builder stage's `pip wheel .` on exactly what it COPYs (minus .dockerignore) compiles
    both optional extensions: without setup.py in the context, or without a compiler in the
    stage, the image would silently run the pure-Python paths."""
    import shutil
    import zipfile

    text = DOCKERFILE.read_text()
    builder = text.split(" AS runtime")[0]
    assert re.search(r"apt-get install [^\n]*\bgcc\b", builder), "a compiler in the builder"
    assert (
        'import collector.sflow._flowscan, collector.apic._pagescan"'
        in text.split(" AS runtime")[1]
    ), "the runtime stage checks the extensions import"
    ctx = tmp_path / "src"
    ctx.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.so", "*.egg-info")
    for line in re.findall(r"^COPY (?!--)(.+)$", builder, re.M):
        *sources, dest = line.split()
        for src in sources:
            for path in ROOT.glob(src):
                # "COPY a b ./" puts each file at the top; "COPY dir ./dir" copies the tree there
                target = ctx / path.name if dest in ("./", ".") else ctx / dest.removeprefix("./")
                target.parent.mkdir(parents=True, exist_ok=True)
                if path.is_dir():
                    shutil.copytree(path, target, ignore=junk)
                else:
                    shutil.copy2(path, target)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--wheel-dir", str(tmp_path / "wheels"), str(ctx)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (tmp_path / "wheels").glob("fabricscope-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for ext in ("collector/sflow/_flowscan", "collector/apic/_pagescan"):
        assert any(n.startswith(ext) and n.endswith(".so") for n in names), (ext, names[:50])


def test_dockerignore_keeps_secrets_and_junk_out() -> None:
    rules = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    for rule in (".env", ".git", "tests", "**/__pycache__"):
        assert rule in rules, rule
    # and nothing the builder stage COPYs is ignored
    copied = re.findall(r"^COPY (?!--)(\S+)", DOCKERFILE.read_text(), re.M)
    assert copied
    for src in copied:
        assert src.rstrip("*") not in rules, f"{src} is COPYed but ignored"


# ------------------------------------------------------------------ the real Compose loader
COMPOSE_GO = "github.com/compose-spec/compose-go/v2"
COMPOSE_GO_VERSION = "v2.16.2"  # the version compose-spec.json was vendored from
_LOADER_MAIN = """package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

// usage: composecheck WORKDIR ENVFILE COMPOSEFILE... ; prints the loaded project as JSON
func main() {
	opts, err := cli.NewProjectOptions(os.Args[3:],
		cli.WithWorkingDirectory(os.Args[1]),
		cli.WithEnvFiles(os.Args[2]),
		cli.WithDotEnv,
		cli.WithName("fabricscope"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, err := p.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(b)
}
"""


@pytest.fixture(scope="module")
def compose_loader() -> Path:
    """compose-go's own loader (what `docker compose config` runs), built from the Go module
    proxy once and cached; skipped where there is no Go toolchain."""
    import shutil

    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain: the compose-go loader check needs `go`")
    # compose-go v2.16 needs Go >= 1.24; Debian 12's golang-go is 1.19 (enough for influxd only).
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout
    m = re.match(r"go(\d+)\.(\d+)", version.strip())
    if m is None or (int(m[1]), int(m[2])) < (1, 24):
        pytest.skip(f"the compose-go loader check needs Go >= 1.24, not {version.strip()!r}")
    cache = Path.home() / ".cache" / "fabricscope" / f"composecheck-{COMPOSE_GO_VERSION}"
    binary = cache / "composecheck"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "main.go").write_text(_LOADER_MAIN)
        (cache / "go.mod").write_text("module composecheck\n\ngo 1.24\n")
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
        for cmd in (
            [go, "get", f"{COMPOSE_GO}@{COMPOSE_GO_VERSION}"],
            [go, "mod", "tidy"],
            [go, "build", "-o", str(binary), "."],
        ):
            done = subprocess.run(cmd, cwd=cache, env=env, capture_output=True, timeout=600)
            assert done.returncode == 0, done.stderr.decode()[-2000:]
    return binary


def _compose_go(loader: Path, env_file: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(loader), str(ROOT), str(env_file), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_compose_go_loads_base_and_demo(compose_loader: Path) -> None:
    """Interpolation, merge and schema validation by the real loader agree with ours."""
    for files in ((BASE,), (BASE, DEMO)):
        done = _compose_go(compose_loader, ENV_EXAMPLE, *files)
        assert done.returncode == 0, done.stderr
        real = json.loads(done.stdout)
        ours = load_project(*files)
        assert set(real["services"]) == set(ours["services"])
        for name, svc in ours["services"].items():
            env = {k: str(v) for k, v in svc.get("environment", {}).items()}
            assert real["services"][name].get("environment", {}) == env, name
            assert set(real["services"][name].get("depends_on", {})) == set(
                svc.get("depends_on", {})
            ), name
            assert real["services"][name]["healthcheck"]["test"] == svc["healthcheck"]["test"]


@pytest.mark.slow
def test_compose_go_refuses_a_missing_secret(compose_loader: Path, tmp_path: Path) -> None:
    env = read_env_file(ENV_EXAMPLE)
    del env["INFLUX_ADMIN_TOKEN"]
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    done = _compose_go(compose_loader, env_file, BASE)
    assert done.returncode != 0
    assert "INFLUX_ADMIN_TOKEN" in done.stderr


def _cli_commands() -> set[str]:
    import argparse

    from fabricscope.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


@pytest.mark.parametrize("service", [*FABRICSCOPE_SERVICES, *DEMO_SERVICES])
def test_service_command_parses_with_the_real_cli(
    demo_project: dict[str, Any], service: str
) -> None:
    from fabricscope.cli import build_parser

    command = [str(c) for c in demo_project["services"][service]["command"]]
    if command[0] not in _cli_commands():
        pytest.skip(f"`fabricscope {command[0]}` is not built yet")
    args = build_parser().parse_args(command)  # SystemExit(2) on an unknown flag
    assert getattr(args, "handler", None) is not None
