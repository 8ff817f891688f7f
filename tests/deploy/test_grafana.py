"""grafana/: provisioning YAML and dashboard JSON, checked without running Grafana."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fabricscope.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "grafana" / "provisioning"
DASHBOARDS = ROOT / "grafana" / "dashboards"
DS_UID = "fabricscope-influxdb"
DS_INPUT = "DS_FABRICSCOPE_INFLUXDB"
# Panels and queries name the datasource through the variable / import input of this name.
DS_REF = {"type": "influxdb", "uid": "${" + DS_INPUT + "}"}
SETTINGS_ENV = {f"FABRICSCOPE_{name.upper()}" for name in Settings.model_fields}

# Grafana's own variables in InfluxQL queries (pkg/influxdb/models/query.go) and alias patterns.
GRAFANA_BUILTINS = {"timeFilter", "interval", "__interval", "__interval_ms", "__from", "__to"}


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def grafana_expand(text: str, env: dict[str, str]) -> str:
    """Grafana's provisioning expansion: $VAR and ${VAR} (unset → empty)."""
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
        lambda m: env.get(m[1] or m[2], ""),
        text,
    )


def env_refs(text: str) -> set[str]:
    return {a or b for a, b in re.findall(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", text)}


@pytest.fixture(scope="module")
def grafana_env() -> dict[str, str]:
    """The Grafana container's environment as docker-compose.yml sets it (with .env.example),
    using test_compose.py's interpolation (loaded by path: tests are not a package)."""
    spec = importlib.util.spec_from_file_location(
        "deploy_test_compose", Path(__file__).with_name("test_compose.py")
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    project = mod.load_project(ROOT / "docker-compose.yml")
    grafana = project["services"]["grafana"]
    env = {k: str(v) for k, v in grafana["environment"].items()}
    # The token is not in the environment: the entrypoint exports it from the read-only token
    # file that the influx-tokens step writes (test_compose checks the entrypoint really does).
    assert "FABRICSCOPE_INFLUX_TOKEN=" in grafana["entrypoint"][2]
    env["FABRICSCOPE_INFLUX_TOKEN"] = "ro-token-from-/run/fabricscope/influx-ro/token"
    return env


# ------------------------------------------------------------------ provisioning
def test_provisioning_files_parse() -> None:
    files = sorted(PROVISIONING.rglob("*.y*ml"))
    assert {f.relative_to(PROVISIONING).as_posix() for f in files} >= {
        "datasources/influxdb.yml",
        "dashboards/fabricscope.yml",
    }
    for f in files:
        assert load_yaml(f).get("apiVersion") == 1, f


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    doc = load_yaml(PROVISIONING / "datasources" / "influxdb.yml")
    sources = doc["datasources"]
    assert len(sources) == 1
    return dict(sources[0])


def test_datasource_is_influxql_with_fixed_uid(datasource: dict[str, Any]) -> None:
    assert datasource["uid"] == DS_UID
    assert datasource["type"] == "influxdb"
    assert datasource.get("access", "proxy") == "proxy"
    jd = datasource["jsonData"]
    assert jd["version"] == "InfluxQL"
    assert jd["httpMode"] == "POST"
    assert jd["dbName"] == "${FABRICSCOPE_INFLUX_BUCKET}"
    assert datasource["url"] == "${FABRICSCOPE_INFLUX_URL}"
    # 2.x: v1-compatible InfluxQL authenticated with "Authorization: Token <API token>"
    assert jd["httpHeaderName1"] == "Authorization"
    assert datasource["secureJsonData"] == {"httpHeaderValue1": "Token ${FABRICSCOPE_INFLUX_TOKEN}"}
    # no credentials in clear-text fields
    for key in ("password", "user", "basicAuthPassword", "token"):
        assert key not in datasource and key not in jd


def test_datasource_secrets_are_env_references_only(datasource: dict[str, Any]) -> None:
    for key, value in datasource["secureJsonData"].items():
        rest = re.sub(r"\$\{[A-Za-z_]\w*\}", "", value).strip()
        assert rest in ("", "Token", "Bearer"), f"secureJsonData.{key} holds a literal"


def test_datasource_env_comes_from_compose(
    datasource: dict[str, Any], grafana_env: dict[str, str]
) -> None:
    text = (PROVISIONING / "datasources" / "influxdb.yml").read_text()
    body = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    refs = env_refs(body)
    assert refs == {
        "FABRICSCOPE_INFLUX_URL",
        "FABRICSCOPE_INFLUX_BUCKET",
        "FABRICSCOPE_INFLUX_TOKEN",
    }
    assert refs <= SETTINGS_ENV  # the same names the fabricscope processes read
    missing = refs - set(grafana_env)
    assert not missing, f"grafana service does not set {missing}"
    # what Grafana ends up with, given .env.example
    expanded = yaml.safe_load(grafana_expand(body, grafana_env))["datasources"][0]
    assert expanded["url"] == "http://influxdb:8086"
    assert expanded["jsonData"]["dbName"] == grafana_env["FABRICSCOPE_INFLUX_BUCKET"]
    token = grafana_env["FABRICSCOPE_INFLUX_TOKEN"]
    assert token and expanded["secureJsonData"]["httpHeaderValue1"] == f"Token {token}"


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    doc = load_yaml(PROVISIONING / "dashboards" / "fabricscope.yml")
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose


# ------------------------------------------------------------------ dashboards
def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in panels:
        out.append(p)
        out.extend(all_panels(p.get("panels", [])))  # collapsed rows hold their panels
    return out


def test_there_are_dashboards() -> None:
    assert any(f.name == "pipeline-health.json" for f in dashboard_files())


def test_dashboard_uids_unique() -> None:
    uids = [json.loads(f.read_text())["uid"] for f in dashboard_files()]
    assert len(uids) == len(set(uids))


_FLUX = re.compile(r"\|>|\bfrom\s*\(\s*bucket", re.I)


def check_influxql(q: str, where: str, *, whole_range: bool = False) -> None:
    """`whole_range`: a table or stat query that may reduce over the whole time range in
    InfluxQL (top-N of per-key sums, last state per port) and so needs no GROUP BY time."""
    q = q.strip()
    assert not _FLUX.search(q), f"{where}: Flux, not InfluxQL"
    head = q.split(None, 1)[0].upper()
    assert head in ("SELECT", "SHOW"), f"{where}: not an InfluxQL statement: {q[:40]}"
    assert q.count("(") == q.count(")"), f"{where}: unbalanced parentheses"
    assert q.count('"') % 2 == 0 and q.count("'") % 2 == 0, f"{where}: unbalanced quotes"
    if head == "SELECT":
        assert re.search(r"\bFROM\s+\"?[A-Za-z_]", q), f"{where}: no FROM"
        assert "$timeFilter" in q, f"{where}: no $timeFilter"
        if not whole_range and re.search(
            r"\b(mean|max|min|sum|last|count|derivative|non_negative_\w+)\(", q
        ):
            assert re.search(r"GROUP BY time\(\$(__)?interval\)", q), f"{where}: GROUP BY time"


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_json(path: Path) -> None:
    d = json.loads(path.read_text())
    assert isinstance(d.get("uid"), str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"])
    assert d.get("title")
    assert isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 39
    assert d.get("id") is None  # provisioned dashboards get their id from Grafana
    panels = all_panels(d["panels"])
    assert panels
    ids = [p["id"] for p in panels]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)), ids
    # UI import: one datasource input, and the same name as a datasource variable whose default
    # is the provisioned datasource (file provisioning does not read __inputs).
    assert d["__inputs"] == [
        {
            "name": DS_INPUT,
            "label": d["__inputs"][0]["label"],
            "description": d["__inputs"][0]["description"],
            "type": "datasource",
            "pluginId": "influxdb",
            "pluginName": "InfluxDB",
        }
    ]
    ds_vars = [v for v in d["templating"]["list"] if v.get("type") == "datasource"]
    assert [(v["name"], v["query"], v["current"]["value"]) for v in ds_vars] == [
        (DS_INPUT, "influxdb", DS_UID)
    ]
    assert "fabricscope-influxdb" not in json.dumps(d["panels"]), "a hard-coded datasource uid"
    variables = {v["name"] for v in d.get("templating", {}).get("list", [])}
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            assert v["datasource"] == DS_REF, f"variable {v['name']}"
            check_influxql(v["query"], f"variable {v['name']}")
    for p in panels:
        where = f"{path.name} panel {p['id']} {p.get('title')!r}"
        if p.get("type") == "row":
            continue
        assert p.get("datasource") == DS_REF, where
        assert {"h", "w", "x", "y"} <= set(p.get("gridPos", {})), where
        targets = p.get("targets", [])
        assert targets, f"{where}: no targets"
        refids = [t["refId"] for t in targets]
        assert len(refids) == len(set(refids)), where
        for t in targets:
            assert t.get("datasource", DS_REF) == DS_REF, where
            assert t.get("rawQuery") is True, f"{where}: not a raw InfluxQL query"
            # top-N tables and stats may reduce over the whole range in InfluxQL itself
            whole = t.get("resultFormat") == "table" or p.get("type") == "stat"
            check_influxql(t["query"], where, whole_range=whole)
            used = set(re.findall(r"\$([A-Za-z_]\w*)", t["query"]))
            unknown = used - variables - GRAFANA_BUILTINS
            assert not unknown, f"{where}: undefined variables {unknown}"


STATS_FIELDS = {
    "datagrams",
    "samples",
    "decode_errors",
    "lost_datagrams",
    "points_written",
    "points_spooled",
    "points_dropped",
    "queue_depth",
    # the analyzers' own rows (analyzers/stats.py)
    "runs",
    "failures",
    "last_success",
    "last_duration_ms",
    "moves_analysed",
    "findings_written",
    "rows_written",
    "rejected_sources",
}
STATS_TAGS = {"process", "instance", "agent", "analyzer", "fabric"}


def test_pipeline_health_uses_the_fabricscope_stats_schema() -> None:
    d = json.loads((DASHBOARDS / "pipeline-health.json").read_text())
    queries = [t["query"] for p in all_panels(d["panels"]) for t in p.get("targets", [])]
    queries += [v["query"] for v in d["templating"]["list"] if v["type"] == "query"]
    fields_used: set[str] = set()
    tags_used: set[str] = set()
    for q in queries:
        assert re.search(r'FROM "fabricscope_stats"', q), q
        fields_used |= set(re.findall(r'\b(?:last|max|mean|min|sum)\("(\w+)"\)', q))
        tags_used |= set(re.findall(r'"(\w+)" (?:=~|!=|=) ', q))
        tags_used |= set(re.findall(r'WITH KEY = "(\w+)"', q))
        group = re.search(r"GROUP BY (.*?)(?: fill\(|$)", q)
        if group:
            tags_used |= set(re.findall(r'"(\w+)"', group.group(1)))
    assert fields_used and fields_used <= STATS_FIELDS, fields_used - STATS_FIELDS
    assert tags_used <= STATS_TAGS, tags_used - STATS_TAGS
    # every listed field is shown somewhere
    assert fields_used == STATS_FIELDS, STATS_FIELDS - fields_used
