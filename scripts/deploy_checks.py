#!/usr/bin/env python3
"""The checks of scripts/validate-deploy.sh that need to read YAML or JSON.

Run with the Python of .tools/venv (it has PyYAML). Each subcommand prints what it found
wrong and exits 1, or prints a one-line summary and exits 0.
"""

import argparse
import copy
import difflib
import json
import os
import re
import sys

import yaml

# API groups whose kinds are CRDs: kubernetes-validate has no schema for them, which is fine.
# Any other kind without a schema is a typo or an API removed from Kubernetes 1.30.
CRD_GROUPS = {"monitoring.coreos.com", "kafka.strimzi.io", "gateway.networking.k8s.io", "keda.sh",
              "autoscaling.k8s.io"}

SEVERITIES = {"critical", "warning", "info"}

# Grafana's built-in variables, replaced by values promtool accepts.
GRAFANA_BUILTINS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "60000",
}

# Fields of the custom resources the chart renders (Prometheus Operator v1, Strimzi v1 and
# v1beta2, Gateway API v1, KEDA v1alpha1, the VPA of ci/full-values.yaml).
CR_FIELDS = {
    "ServiceMonitor": {
        "spec": {"endpoints", "selector", "namespaceSelector", "jobLabel", "targetLabels",
                 "podTargetLabels", "sampleLimit", "attachMetadata"},
        "spec.endpoints[]": {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout",
                             "relabelings", "metricRelabelings", "honorLabels", "honorTimestamps",
                             "params", "tlsConfig", "bearerTokenSecret", "basicAuth",
                             "authorization", "oauth2", "followRedirects", "enableHttp2",
                             "filterRunning", "proxyUrl"},
    },
    "PrometheusRule": {
        "spec": {"groups"},
        "spec.groups[]": {"name", "interval", "rules", "limit", "partial_response_strategy"},
        "spec.groups[].rules[]": {"alert", "record", "expr", "for", "keep_firing_for",
                                  "labels", "annotations"},
    },
    "KafkaTopic": {
        "spec": {"partitions", "replicas", "config", "topicName"},
    },
    "HTTPRoute": {
        "spec": {"parentRefs", "hostnames", "rules"},
        "spec.parentRefs[]": {"group", "kind", "name", "namespace", "sectionName", "port"},
        "spec.rules[]": {"matches", "backendRefs", "filters", "timeouts", "name"},
        "spec.rules[].matches[]": {"path", "headers", "queryParams", "method"},
        "spec.rules[].matches[].path": {"type", "value"},
        "spec.rules[].backendRefs[]": {"name", "port", "namespace", "kind", "group", "weight", "filters"},
    },
    "ScaledObject": {
        "spec": {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "cooldownPeriod", "pollingInterval",
                 "idleReplicaCount", "initialCooldownPeriod", "fallback", "advanced", "triggers"},
        "spec.triggers[]": {"type", "metadata", "name", "authenticationRef", "metricType", "useCachedMetrics"},
    },
    "VerticalPodAutoscaler": {
        "spec": {"targetRef", "updatePolicy", "resourcePolicy", "recommenders"},
    },
    "KafkaUser": {
        "spec": {"authentication", "authorization", "quotas", "template"},
        "spec.template": {"secret"},
        "spec.authentication": {"type", "password"},
        "spec.authorization": {"type", "acls"},
        "spec.authorization.acls[]": {"resource", "operations", "host", "type"},
        "spec.authorization.acls[].resource": {"type", "name", "patternType"},
    },
}


def fail(problems):
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    sys.exit(1)


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def dump(obj):
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


# --- kubernetes-validate ------------------------------------------------------------------

def kv_report(args):
    """Fails on ERROR lines and on 'no schema' warnings for kinds that are not CRDs."""
    problems, crds, passed = [], 0, 0
    with open(args.output, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip()
            if not line:
                continue
            if line.startswith("INFO") and " passed " in line:
                passed += 1
                continue
            m = re.search(r"Couldn't find schema for kind (\S+) with api version (\S+)", line)
            if m:
                group = m.group(2).split("/")[0] if "/" in m.group(2) else ""
                if group in CRD_GROUPS:
                    crds += 1
                    continue
                problems.append(f"{args.label}: unknown kind {m.group(1)} {m.group(2)} (typo, or an API removed in this Kubernetes version)")
                continue
            problems.append(f"{args.label}: {line}")
    if problems:
        fail(problems)
    print(f"{args.label}: {passed} objects valid, {crds} custom resources (no schema, checked by crd-shapes)")


# --- custom resources ----------------------------------------------------------------------

def _walk(obj, path):
    """Yields the mappings found at a path like 'spec.groups[].rules[]'."""
    parts = path.split(".")
    nodes = [obj]
    for part in parts:
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nxt = []
        for n in nodes:
            v = n.get(key) if isinstance(n, dict) else None
            if v is None:
                continue
            nxt.extend(v if many else [v])
        nodes = nxt
    return nodes


def crd_shapes(args):
    problems, count = [], 0
    for path in args.files:
        for doc in load_all(path):
            fields = CR_FIELDS.get(doc.get("kind"))
            if not fields:
                continue
            count += 1
            name = f"{path}: {doc['kind']}/{doc['metadata'].get('name')}"
            for at, allowed in fields.items():
                for node in _walk(doc, at):
                    if not isinstance(node, dict):
                        problems.append(f"{name}: {at} is not a mapping")
                        continue
                    for key in sorted(set(node) - allowed):
                        problems.append(f"{name}: unknown field {at}.{key}")
            if doc["kind"] == "KafkaTopic":
                if "strimzi.io/cluster" not in doc["metadata"].get("labels", {}):
                    problems.append(f"{name}: missing label strimzi.io/cluster")
                for k in ("partitions", "replicas"):
                    if not isinstance(doc["spec"].get(k), int) or doc["spec"][k] < 1:
                        problems.append(f"{name}: spec.{k} must be a positive integer")
            if doc["kind"] == "ServiceMonitor" and not doc["spec"].get("endpoints"):
                problems.append(f"{name}: no endpoints")
    if problems:
        fail(problems)
    print(f"{count} custom resources have only known fields")


# --- Prometheus rules ----------------------------------------------------------------------

def extract_rules(args):
    docs = load_all(args.source)
    if len(docs) != 1 or docs[0].get("kind") != "PrometheusRule":
        fail([f"{args.source}: expected exactly one PrometheusRule"])
    with open(args.dest, "w", encoding="utf-8") as f:
        yaml.safe_dump(docs[0]["spec"], f, sort_keys=False)
    print(f"wrote the rules of {args.source} to {args.dest}")


def github_anchor(heading):
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+).+?\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")


def markdown_lines(path):
    """The lines of a markdown file outside fenced code blocks, as (number, line)."""
    fenced = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
            elif not fenced:
                yield number, line


def markdown_anchors(path):
    """The anchors GitHub gives the headings of a markdown file (repeats get -1, -2 …)."""
    anchors, seen = set(), {}
    for _, line in markdown_lines(path):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))
        slug = github_anchor(text)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def links(args):
    """Every relative link of the given markdown files points at a file or directory that
    exists, and every #anchor at a heading of the markdown file it names."""
    problems, checked, anchors = [], 0, {}
    for path in args.files:
        for number, line in markdown_lines(path):
            line = CODE_SPAN.sub("x", line)
            targets = INLINE_LINK.findall(line) + REFERENCE_DEFINITION.findall(line)
            for target in targets:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http:, https:, mailto: …
                checked += 1
                where = f"{path}:{number}: {target}"
                file_part, _, anchor = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                if not os.path.exists(resolved):
                    problems.append(f"{where}: {resolved} does not exist")
                    continue
                if not anchor:
                    continue
                if not resolved.endswith(".md"):
                    problems.append(f"{where}: an anchor into a file that is not markdown")
                    continue
                if resolved not in anchors:
                    anchors[resolved] = markdown_anchors(resolved)
                if anchor not in anchors[resolved]:
                    problems.append(f"{where}: {resolved} has no heading for #{anchor}")
    if problems:
        fail(problems)
    print(f"{checked} relative links in {len(args.files)} markdown files resolve")


def rule_coverage(args):
    """Every alert: severity, summary, description, a runbook anchor that exists, and unit
    tests where it fires and where it stays quiet."""
    spec = load_all(args.rules)[0]["spec"]
    alerts = {}
    problems = []
    for group in spec["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            name = rule["alert"]
            alerts[name] = {"fires": False, "quiet": False}
            if rule.get("labels", {}).get("severity") not in SEVERITIES:
                problems.append(f"{name}: labels.severity must be one of {sorted(SEVERITIES)}")
            ann = rule.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not ann.get(key):
                    problems.append(f"{name}: annotation {key} missing")
            url = ann.get("runbook_url", "")
            if url:
                path, _, anchor = url.partition("#")
                if path != "docs/runbook.md" or not anchor:
                    problems.append(f"{name}: runbook_url must be docs/runbook.md#<anchor>, is {url}")
                elif args.runbook and anchor not in markdown_anchors(args.runbook):
                    problems.append(f"{name}: {args.runbook} has no heading for #{anchor}")
    for test_file in sorted(os.listdir(args.tests)):
        if not test_file.endswith(".yaml"):
            continue
        with open(os.path.join(args.tests, test_file), encoding="utf-8") as f:
            data = yaml.safe_load(f)
        for test in data.get("tests", []):
            for case in test.get("alert_rule_test", []):
                name = case["alertname"]
                if name not in alerts:
                    problems.append(f"{test_file}: tests unknown alert {name}")
                    continue
                alerts[name]["fires" if case.get("exp_alerts") else "quiet"] = True
    for name, seen in alerts.items():
        if not seen["fires"]:
            problems.append(f"{name}: no test case where it fires")
        if not seen["quiet"]:
            problems.append(f"{name}: no test case where it stays quiet")
    if problems:
        fail(problems)
    print(f"{len(alerts)} alerts: annotated, runbook sections exist, firing and quiet cases tested")


# --- Grafana dashboard ----------------------------------------------------------------------

def dashboard_rules(args):
    """Checks the dashboard's structure and writes every query as a recording rule, with the
    template variables substituted, for `promtool check rules`."""
    with open(args.dashboard, encoding="utf-8") as f:
        dash = json.load(f)
    problems = []
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        problems.append("no 'datasource' variable of type datasource")
    substitutions = dict(GRAFANA_BUILTINS)
    for name, var in variables.items():
        if name == "datasource":
            continue
        substitutions[name] = ".*" if var.get("includeAll") or var.get("multi") else "hookbridge"

    def substitute(expr, where):
        def repl(m):
            name = m.group(1) or m.group(2) or m.group(3)
            name = name.split(":")[0]
            if name not in substitutions:
                problems.append(f"{where}: unknown variable ${name}")
                return "x"
            return substitutions[name]
        return re.sub(r"\$\{(\w+(?::\w+)?)\}|\[\[(\w+)\]\]|\$(\w+)", repl, expr)

    rules, ids, titles = [], set(), set()
    panels = list(dash.get("panels", []))
    for p in list(panels):
        panels.extend(p.get("panels", []))
    for p in panels:
        where = f"panel {p.get('id')} '{p.get('title')}'"
        if p.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(p.get("id"))
        if not {"h", "w", "x", "y"} <= set(p.get("gridPos", {})):
            problems.append(f"{where}: incomplete gridPos")
        if p.get("type") == "row":
            continue
        if p.get("title") in titles:
            problems.append(f"{where}: duplicate title")
        titles.add(p.get("title"))
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{where}: datasource must be the ${{datasource}} variable")
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"{where}: no queries")
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                problems.append(f"{where}: target {t.get('refId')} has no expr")
                continue
            rules.append({"record": f"dashboard:panel_{p['id']}:{t.get('refId', 'A').lower()}",
                          "expr": substitute(expr, where)})
    for name, var in variables.items():
        if var.get("type") == "query":
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q or "")
            if not m:
                problems.append(f"variable {name}: expected label_values(selector, label), got {q!r}")
            else:
                rules.append({"record": f"dashboard:variable:{name}", "expr": substitute(m.group(1), f"variable {name}")})
    if problems:
        fail(problems)
    with open(args.dest, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f, sort_keys=False)
    print(f"{len(rules)} dashboard queries in {len(panels)} panels written to {args.dest}")


# --- chart defaults == deploy/ ----------------------------------------------------------------

HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")
HASH_SUFFIX = re.compile(r"-[a-z0-9]{10}$")


def _normalize(doc, generated_configmaps):
    doc = copy.deepcopy(doc)
    md = doc["metadata"]
    for k in HELM_ONLY_LABELS:
        md.get("labels", {}).pop(k, None)
    if doc["kind"] == "ConfigMap" and md["name"] in generated_configmaps:
        md["name"] = generated_configmaps[md["name"]]
    if doc["kind"] == "Deployment":
        tmpl = doc["spec"]["template"]
        tmpl["metadata"].get("annotations", {}).pop("checksum/config", None)
        if not tmpl["metadata"].get("annotations"):
            tmpl["metadata"].pop("annotations", None)
        for vol in tmpl["spec"].get("volumes", []):
            cm = vol.get("configMap")
            if cm and cm["name"] in generated_configmaps:
                cm["name"] = generated_configmaps[cm["name"]]
    return doc


def equivalence(args):
    """The kustomize rendering of deploy/ equals the chart's defaults, except the credentials
    Secret (deploy/base expects one you create), Helm hooks (the `helm test` pod) and the
    Helm-only labels and checksum."""
    helm_docs = [d for d in load_all(args.helm)
                 if d["kind"] != "Secret" and "helm.sh/hook" not in d["metadata"].get("annotations", {})]
    kust_docs = []
    for path in args.kustomize:
        kust_docs.extend(load_all(path))
    generated = {}
    for d in kust_docs:
        if d["kind"] == "ConfigMap" and HASH_SUFFIX.search(d["metadata"]["name"]):
            generated[d["metadata"]["name"]] = HASH_SUFFIX.sub("", d["metadata"]["name"])

    def index(docs):
        normalized = (_normalize(d, generated) for d in docs)
        return {(d["kind"], d["metadata"]["name"]): d for d in normalized}

    helm, kust = index(helm_docs), index(kust_docs)
    problems = []
    for key in sorted(set(helm) | set(kust)):
        if key not in kust:
            problems.append(f"{key[0]}/{key[1]} is rendered by the chart but missing from deploy/")
        elif key not in helm:
            problems.append(f"{key[0]}/{key[1]} is in deploy/ but not rendered by the chart")
        elif helm[key] != kust[key]:
            diff = "".join(difflib.unified_diff(dump(helm[key]), dump(kust[key]), "chart", "deploy"))
            problems.append(f"{key[0]}/{key[1]} differs:\n{diff}")
    if problems:
        fail(problems)
    print(f"{len(helm)} objects of deploy/ equal the chart's defaults")


# --- hookbridge check-config -----------------------------------------------------------------

def extract_configs(args):
    """Writes the hookbridge.toml of each rendering (exactly one ConfigMap each) to OUTDIR,
    for `hookbridge check-config`, and prints the paths written."""
    os.makedirs(args.outdir, exist_ok=True)
    problems = []
    for path in args.renders:
        tomls = [d["data"]["hookbridge.toml"] for d in load_all(path)
                 if d["kind"] == "ConfigMap" and "hookbridge.toml" in d.get("data", {})]
        if len(tomls) != 1:
            problems.append(f"{path}: {len(tomls)} ConfigMaps with a hookbridge.toml, expected 1")
            continue
        out = os.path.join(args.outdir, os.path.splitext(os.path.basename(path))[0] + ".toml")
        with open(out, "w", encoding="utf-8") as f:
            f.write(tomls[0])
        print(out)
    if problems:
        fail(problems)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(required=True)
    p = sub.add_parser("kv-report"); p.add_argument("label"); p.add_argument("output"); p.set_defaults(fn=kv_report)
    p = sub.add_parser("crd-shapes"); p.add_argument("files", nargs="+"); p.set_defaults(fn=crd_shapes)
    p = sub.add_parser("extract-rules"); p.add_argument("source"); p.add_argument("dest"); p.set_defaults(fn=extract_rules)
    p = sub.add_parser("rule-coverage"); p.add_argument("rules"); p.add_argument("tests"); p.add_argument("runbook", nargs="?")
    p.set_defaults(fn=rule_coverage)
    p = sub.add_parser("links"); p.add_argument("files", nargs="+"); p.set_defaults(fn=links)
    p = sub.add_parser("dashboard-rules"); p.add_argument("dashboard"); p.add_argument("dest"); p.set_defaults(fn=dashboard_rules)
    p = sub.add_parser("equivalence"); p.add_argument("helm"); p.add_argument("kustomize", nargs="+"); p.set_defaults(fn=equivalence)
    p = sub.add_parser("extract-configs"); p.add_argument("outdir"); p.add_argument("renders", nargs="+")
    p.set_defaults(fn=extract_configs)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
