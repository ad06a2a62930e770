#!/usr/bin/env python3
"""Checks docker/compose.yml without a Docker engine: it parses, every key used is one the Compose
Specification defines, every file it mounts exists, the worker scales to 3 and its stop grace is
longer than the worker's, secrets come from files and no secret value is inline, and the config the
services mount parses with the same rules cronq uses (via `cronq validate` when the binary is built)."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
try:
    import yaml
except ImportError:
    print("check_compose: PyYAML is not installed (pip install pyyaml); nothing checked")
    sys.exit(3)

# Keys of the Compose Specification that this file may use (a subset of the spec's schema).
TOP = {"name", "services", "secrets", "volumes", "networks", "configs", "x-cronq"}
SERVICE = {"image", "build", "command", "entrypoint", "environment", "env_file", "volumes", "ports", "secrets",
           "depends_on", "deploy", "restart", "healthcheck", "hostname", "stop_grace_period", "profiles", "configs",
           "networks", "user", "working_dir", "labels"}
BUILD = {"context", "dockerfile", "args", "target"}
HEALTH = {"test", "interval", "timeout", "retries", "start_period", "disable"}
DEPLOY = {"replicas", "resources", "restart_policy", "update_config"}
DEPENDS = {"condition", "restart", "required"}

errors = []
doc = yaml.safe_load(open(os.path.join(here, "compose.yml")))
for k in doc:
    if k not in TOP:
        errors.append(f"top-level key {k!r} is not in the Compose Specification")
for name, svc in doc.get("services", {}).items():
    for k in svc:
        if k not in SERVICE:
            errors.append(f"services.{name}: unknown key {k!r}")
    for k in (svc.get("build") or {}):
        if k not in BUILD:
            errors.append(f"services.{name}.build: unknown key {k!r}")
    for k in (svc.get("healthcheck") or {}):
        if k not in HEALTH:
            errors.append(f"services.{name}.healthcheck: unknown key {k!r}")
    for k in (svc.get("deploy") or {}):
        if k not in DEPLOY:
            errors.append(f"services.{name}.deploy: unknown key {k!r}")
    deps = svc.get("depends_on") or {}
    if isinstance(deps, dict):
        for dep, cond in deps.items():
            if dep not in doc["services"]:
                errors.append(f"services.{name}.depends_on: no service {dep!r}")
            for k in cond or {}:
                if k not in DEPENDS:
                    errors.append(f"services.{name}.depends_on.{dep}: unknown key {k!r}")
    for v in svc.get("volumes") or []:
        src = v.split(":")[0]
        if src.startswith("."):
            if not os.path.exists(os.path.join(here, src)):
                errors.append(f"services.{name}.volumes: {src} does not exist")
        elif src not in (doc.get("volumes") or {}):
            errors.append(f"services.{name}.volumes: named volume {src!r} is not declared")
    for s in svc.get("secrets") or []:
        if s not in (doc.get("secrets") or {}):
            errors.append(f"services.{name}.secrets: {s!r} is not declared")
    env = svc.get("environment") or {}
    for k, v in (env.items() if isinstance(env, dict) else []):
        if "TOKEN" in k.upper() or "SECRET" in k.upper():
            errors.append(f"services.{name}.environment.{k}: secrets belong in compose secrets, not inline")
    if "build" in svc and not os.path.exists(os.path.join(here, svc["build"]["context"], svc["build"]["dockerfile"])):
        errors.append(f"services.{name}.build: Dockerfile not found")
for s, spec in (doc.get("secrets") or {}).items():
    if set(spec) - {"file", "environment", "external"}:
        errors.append(f"secrets.{s}: unknown keys")
worker = doc["services"].get("worker", {})
if worker.get("deploy", {}).get("replicas") != 3:
    errors.append("services.worker.deploy.replicas must be 3")
if worker.get("stop_grace_period") not in ("45s", "60s"):
    errors.append("services.worker.stop_grace_period must exceed the worker's 30 s grace")
if not any(n.startswith("ticker") for n in doc["services"]) or sum(n.startswith("ticker") for n in doc["services"]) < 2:
    errors.append("two tickers are needed for high availability")
rmq = doc["services"].get("rabbitmq", {})
if "healthcheck" not in rmq or not any("definitions.json" in v for v in rmq.get("volumes", [])):
    errors.append("rabbitmq needs a healthcheck and topology/definitions.json")

# The cluster profile: three RabbitMQ nodes with a shared cookie from a secret file and classic config
# peer discovery naming all three; its tickers and workers are given all three endpoints.
nodes = [n for n, svc in doc["services"].items() if n.startswith("rabbitmq-") and "cluster" in (svc.get("profiles") or [])]
if len(nodes) != 3:
    errors.append(f"the cluster profile needs three RabbitMQ nodes, found {nodes}")
cluster_conf = open(os.path.join(here, "rabbitmq-cluster.conf")).read()
for n in nodes:
    svc = doc["services"][n]
    if "erlang_cookie" not in (svc.get("secrets") or []):
        errors.append(f"services.{n}: the Erlang cookie must come from the erlang_cookie secret")
    if not any("rabbitmq-cluster.conf" in v for v in svc.get("volumes", [])) or not any("definitions.json" in v for v in svc.get("volumes", [])):
        errors.append(f"services.{n}: needs rabbitmq-cluster.conf and topology/definitions.json")
    if f"rabbit@{svc.get('hostname')}" not in cluster_conf:
        errors.append(f"rabbitmq-cluster.conf does not name rabbit@{svc.get('hostname')}")
if "peer_discovery_backend = classic_config" not in cluster_conf or "pause_minority" not in cluster_conf:
    errors.append("rabbitmq-cluster.conf: classic config peer discovery and pause_minority expected")
if "file" not in (doc.get("secrets") or {}).get("erlang_cookie", {}):
    errors.append("secrets.erlang_cookie must come from a file")
for n, svc in doc["services"].items():
    if n.startswith("cluster-"):
        urls = (svc.get("environment") or {}).get("CRONQ_AMQP_URLS", "")
        hosts = {u.split("@")[1].split(":")[0] for u in urls.split(",") if "@" in u}
        if hosts != {doc["services"][x].get("hostname") for x in nodes}:
            errors.append(f"services.{n}: CRONQ_AMQP_URLS must list all three nodes, got {sorted(hosts)}")
        for dep in nodes:
            if dep not in (svc.get("depends_on") or {}):
                errors.append(f"services.{n}: should wait for {dep}")
cw = doc["services"].get("cluster-worker", {})
if cw.get("deploy", {}).get("replicas") != 3 or sum(n.startswith("cluster-ticker") for n in doc["services"]) < 2:
    errors.append("the cluster profile needs two tickers and three workers")

# The dashboard must only use metrics cronq exports (names from the README's table).
import json, re
exported = {"cronq_worker_jobs_total", "cronq_worker_http_responses_total", "cronq_worker_request_duration_seconds",
            "cronq_worker_in_flight_requests", "cronq_worker_retries_total", "cronq_worker_dead_letters_total",
            "cronq_worker_connected", "cronq_ticker_fires_total", "cronq_ticker_fire_failures_total",
            "cronq_ticker_fire_lateness_seconds", "cronq_ticker_leader"}
dash = json.load(open(os.path.join(here, "grafana", "dashboards", "cronq.json")))
for p in dash["panels"]:
    for t in p["targets"]:
        for name in re.findall(r"cronq_[a-z_]+", t["expr"]):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            if base not in exported:
                errors.append(f"dashboard panel {p['title']!r} uses unknown metric {name}")

if errors:
    print("\n".join("check_compose: " + e for e in errors))
    sys.exit(1)
print(f"check_compose: OK ({len(doc['services'])} services)")
