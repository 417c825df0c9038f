#!/usr/bin/env python3
"""What scripts/validate-deploy.sh checks in the chart's renderings beyond schemas: that each
option of the chart renders what it promises (the passing cases; the must-fail cases are
`helm template` runs that must be refused), and what a packaged release chart carries.

Run with the Python of .tools/venv (it has PyYAML). Each subcommand prints what it found
wrong and exits 1, or prints a summary and exits 0.
"""

import argparse
import io
import re
import sys
import tarfile
import tomllib

import yaml


class Problems:
    def __init__(self):
        self.items, self.checked = [], 0

    def expect(self, condition, what):
        self.checked += 1
        if not condition:
            self.items.append(what)

    def finish(self, summary):
        for p in self.items:
            print(f"  - {p}", file=sys.stderr)
        if self.items:
            sys.exit(1)
        print(f"{summary}: {self.checked} expectations hold")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if len(found) != 1:
        raise SystemExit(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def kinds(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def alerts(rule_doc):
    return {r["alert"]: r for g in rule_doc["spec"]["groups"] for r in g["rules"] if "alert" in r}


def check_full(p, docs):
    """ci/full-values.yaml: every option set."""
    deploy = one(docs, "Deployment")
    pod = deploy["spec"]["template"]
    spec = deploy["spec"]
    p.expect(deploy["metadata"].get("annotations", {}).get("example.com/owner") == "platform", "deploymentAnnotations")
    p.expect(spec["revisionHistoryLimit"] == 3, "revisionHistoryLimit")
    p.expect(spec.get("minReadySeconds") == 10, "minReadySeconds")
    p.expect(spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, "updateStrategy")
    p.expect("replicas" not in spec, "replicas left to the HPA")
    labels = pod["metadata"]["labels"]
    p.expect(labels.get("team") == "platform" and labels.get("cost-center") == "platform", "commonLabels and podLabels on the pods")
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    p.expect(list(containers) == ["hookbridge", "log-shipper"], f"extraContainers: {list(containers)}")
    p.expect([c["name"] for c in pod["spec"].get("initContainers", [])] == ["wait-for-kafka"], "initContainers")
    p.expect(containers["hookbridge"].get("envFrom") == [{"secretRef": {"name": "hookbridge-extra-env"}, "prefix": "EXTRA_"}], "envFrom")

    svc = one(docs, "Service", "hookbridge")["spec"]
    for key, want in {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster",
                      "loadBalancerClass": "service.k8s.aws/nlb", "loadBalancerIP": "203.0.113.10",
                      "loadBalancerSourceRanges": ["198.51.100.0/24"], "ipFamilyPolicy": "PreferDualStack",
                      "ipFamilies": ["IPv4", "IPv6"]}.items():
        p.expect(svc.get(key) == want, f"service.{key}: {svc.get(key)!r}")
    p.expect(svc["ports"][0].get("nodePort") == 30080, "service.nodePort")

    rules = one(docs, "Ingress")["spec"]["rules"]
    p.expect([r.get("host") for r in rules] == ["hooks.example.com", None], f"ingress rules by host: {rules}")
    route = one(docs, "HTTPRoute")
    matches = route["spec"]["rules"][0]["matches"]
    p.expect([(m["path"]["type"], m["path"]["value"]) for m in matches]
             == [("PathPrefix", "/everbright"), ("Exact", "/hooks/sighten/milestones")], f"httpRoute paths: {matches}")
    p.expect(route["spec"]["rules"][0]["backendRefs"] == [{"name": "hookbridge", "port": 80}], "httpRoute backend")
    p.expect(route["metadata"]["labels"].get("gateway-access") == "public", "httpRoute labels")

    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]["metrics"]
    p.expect([m["type"] for m in hpa] == ["Resource", "Resource", "Pods", "External"], f"HPA metrics: {hpa}")
    p.expect(hpa[2]["pods"] == {"metric": {"name": "hookbridge_inflight_requests"},
                                "target": {"type": "AverageValue", "averageValue": "64"}}, f"in-flight metric: {hpa[2]}")

    secret = one(docs, "Secret")
    p.expect(secret["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep", "generated Secret kept")
    generated = [k for k, v in secret["data"].items() if k != "engine-hmac-secret"]
    p.expect(generated and all(len(v) == 64 for k, v in secret["data"].items() if k in generated),
             "generated values are 48 random characters")

    sm = one(docs, "ServiceMonitor")["spec"]
    ep = sm["endpoints"][0]
    p.expect(ep["relabelings"][0] == {"action": "replace", "targetLabel": "job", "replacement": "hookbridge-edge"},
             "the job relabeling comes first, with metrics.jobLabel")
    p.expect(ep["relabelings"][1]["targetLabel"] == "node", "relabelings")
    p.expect(ep["metricRelabelings"][0]["action"] == "drop", "metricRelabelings")
    p.expect(ep.get("honorLabels") is True, "honorLabels")
    p.expect(sm.get("targetLabels") == ["app.kubernetes.io/component"], "targetLabels")

    rule_doc = one(docs, "PrometheusRule")
    by_name = alerts(rule_doc)
    p.expect("HookbridgeEventTrafficStopped" not in by_name, "disabled alert is left out")
    with open("deploy/prometheus/hookbridge-rules.yaml", encoding="utf-8") as f:
        shipped = len(alerts(yaml.safe_load(f)))
    p.expect(
        len(by_name) == shipped,
        f"{shipped - 1} alerts kept and 1 extra, got {sorted(by_name)}",
    )
    for name, rule in by_name.items():
        if name != "HookbridgeDeadLettersHigh":
            p.expect(rule["labels"].get("team") == "platform", f"{name}: additionalRuleLabels")
        p.expect('job="hookbridge"' not in rule["expr"], f"{name}: still selects job=\"hookbridge\"")
    high = by_name["HookbridgeHighErrorRatio"]
    p.expect(") > 0.02" in high["expr"] and ">= 20" in high["expr"] and high["for"] == "10m", f"HighErrorRatio overrides: {high}")
    auth = by_name["HookbridgeAuthFailureSpike"]["expr"]
    p.expect(") > 0.25" in auth and ">= 30" in auth, "AuthFailureSpike overrides")
    ack = by_name["HookbridgeAckLatencyHigh"]
    p.expect(") > 1.5" in ack["expr"] and ack["labels"]["severity"] == "critical", "AckLatencyHigh overrides")
    p.expect(rule_doc["spec"]["groups"][-1]["name"] == "hookbridge.extra", "extraRules in their own group")
    absent = by_name["HookbridgeMetricsAbsent"]
    p.expect('job="hookbridge-edge"' in absent["annotations"]["description"], "annotations follow the job label")

    dashboard = one(docs, "ConfigMap", "hookbridge-dashboard")["data"]["hookbridge-dashboard.json"]
    p.expect('job=\\"hookbridge\\"' not in dashboard and dashboard.count('job=\\"hookbridge-edge\\"') > 10,
             "the dashboard follows metrics.jobLabel")

    topics = {t["spec"]["topicName"] for t in kinds(docs, "KafkaTopic")}
    user = one(docs, "KafkaUser")
    acl_topics = {a["resource"]["name"] for a in user["spec"]["authorization"]["acls"] if a["resource"]["type"] == "topic"}
    p.expect(acl_topics == topics and len(topics) == 28, f"KafkaUser ACLs cover exactly the KafkaTopics ({len(topics)})")
    acls = user["spec"]["authorization"]["acls"]
    topic_acls = [a for a in acls if a["resource"]["type"] == "topic"]
    p.expect(all(a["operations"][:3] == ["Write", "Describe", "DescribeConfigs"] for a in topic_acls),
             "Write, Describe, DescribeConfigs on every topic")
    p.expect(all((a["operations"][3:] == ["Read"]) == (".deadletter" in a["resource"]["name"]) for a in topic_acls),
             "Read (for redrive) on the dead-letter topics only")
    p.expect(any(a["resource"]["type"] == "group" and a["resource"]["name"] == "hookbridge-redrive"
                 and a["operations"] == ["Read"] for a in acls), "Read on redrive's consumer group")
    p.expect(user["spec"]["authentication"]["type"] == "tls", "KafkaUser tls")
    p.expect("reflector.v1.k8s.emberstack.com/reflection-allowed" in
             user["spec"]["template"]["secret"]["metadata"]["annotations"], "KafkaUser secretAnnotations")

    vpa = one(docs, "VerticalPodAutoscaler")
    p.expect(vpa["metadata"]["name"] == "hookbridge" and vpa["spec"]["targetRef"]["name"] == "hookbridge",
             "extraObjects (a map) go through tpl")
    extra = one(docs, "ConfigMap", "hookbridge-extra")
    p.expect(extra["data"]["note"] == "rendered through tpl", "extraObjects (a string) go through tpl")

    policy = one(docs, "NetworkPolicy")["spec"]["ingress"][1]["from"]
    p.expect({"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "hookbridge", "app.kubernetes.io/component": "test"}}}
             in policy, "the helm test pod may reach the admin port")
    test = one(docs, "Pod")
    p.expect(test["metadata"]["annotations"]["helm.sh/hook"] == "test", "test pod is a test hook")
    p.expect(test["spec"]["containers"][0]["args"][0] == "probe"
             and test["spec"]["containers"][0]["args"][-1] == "http://hookbridge-metrics.hookbridge.svc:9090/readyz",
             "test pod probes /readyz on the metrics Service")
    p.expect("app.kubernetes.io/name" not in test["metadata"]["labels"]
             or test["metadata"]["labels"]["app.kubernetes.io/name"] != "hookbridge", "no Service selects the test pod")


def check_keda(p, docs):
    """examples/keda-values.yaml: KEDA owns the replica count."""
    p.expect(not kinds(docs, "HorizontalPodAutoscaler"), "no HPA with autoscaling.external")
    p.expect("replicas" not in one(docs, "Deployment")["spec"], "no replicas with autoscaling.external")
    so = one(docs, "ScaledObject")
    p.expect(so["spec"]["scaleTargetRef"] == {"kind": "Deployment", "name": "hookbridge"}, "ScaledObject targets the Deployment")
    trigger = so["spec"]["triggers"][0]
    p.expect(trigger["type"] == "prometheus" and "hookbridge_inflight_requests" in trigger["metadata"]["query"],
             "ScaledObject scales on hookbridge_inflight_requests")


def check_persistence(p, docs):
    """ci/persistence-values.yaml: a StatefulSet with a spool volume per pod instead of the Deployment."""
    p.expect(not kinds(docs, "Deployment"), "no Deployment with persistence")
    sts = one(docs, "StatefulSet")
    spec, pod = sts["spec"], sts["spec"]["template"]
    selector = spec["selector"]["matchLabels"]
    headless = one(docs, "Service", spec["serviceName"])["spec"]
    p.expect(headless.get("clusterIP") == "None" and headless["selector"] == selector, "a headless Service governs the StatefulSet")
    p.expect(spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"},
             "claims are retained on delete and scale-down")
    p.expect(spec["podManagementPolicy"] == "Parallel" and "replicas" not in spec, "Parallel pods, replicas left to the HPA")
    claims = spec["volumeClaimTemplates"]
    p.expect(len(claims) == 1 and claims[0]["metadata"]["name"] == "spool", f"one claim template, spool: {claims}")
    claim = claims[0]
    p.expect(claim["spec"]["resources"]["requests"]["storage"] == "20Gi" and claim["spec"]["storageClassName"] == "fast-ssd"
             and claim["spec"]["accessModes"] == ["ReadWriteOnce"], f"claim size, class, access: {claim['spec']}")
    p.expect(claim["metadata"]["annotations"] == {"backup.example.com/exclude": "true"}
             and claim["metadata"]["labels"].get("example.com/data") == "spool", "claim annotations and labels")
    container = pod["spec"]["containers"][0]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    p.expect(mounts.get("spool", {}).get("mountPath") == "/var/lib/hookbridge" and not mounts["spool"].get("readOnly"),
             "the spool volume is mounted writable")
    security = pod["spec"]["securityContext"]
    p.expect(security.get("fsGroup") == 65532 and security.get("fsGroupChangePolicy") == "OnRootMismatch",
             f"fsGroup lets the non-root user write the volume: {security}")
    p.expect(pod["spec"]["terminationGracePeriodSeconds"] == 120, "persistence.terminationGracePeriodSeconds")
    p.expect(all("matchLabelKeys" not in c for c in pod["spec"]["topologySpreadConstraints"]),
             "no pod-template-hash matchLabelKeys (StatefulSet pods have none)")

    config = one(docs, "ConfigMap", "hookbridge")["data"]["hookbridge.toml"]
    spool = tomllib.loads(config).get("spool")
    p.expect(spool == {"dir": "/var/lib/hookbridge/spool", "max_bytes": int(20 * 2**30 * 0.85), "drain_timeout": "60s"},
             f"[spool] on the volume, max_bytes 85 % of 20Gi, persistence.drainTimeout: {spool}")

    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    p.expect(hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts["metadata"]["name"]},
             f"the HPA targets the StatefulSet: {hpa['scaleTargetRef']}")
    p.expect(hpa["minReplicas"] == 3, "autoscaling.minReplicas")
    labels = pod["metadata"]["labels"]
    pdb = one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]
    policy = one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    p.expect(pdb.items() <= labels.items() and policy.items() <= labels.items(), "the PDB and NetworkPolicy select the pods")

    with open("deploy/prometheus/hookbridge-rules.yaml", encoding="utf-8") as f:
        groups = yaml.safe_load(f)["spec"]["groups"]
    with open("deploy/prometheus/hookbridge-spool-rules.yaml", encoding="utf-8") as f:
        groups += yaml.safe_load(f)["spec"]["groups"]
    p.expect(one(docs, "PrometheusRule")["spec"]["groups"] == groups, "the PrometheusRule carries the main and the spool alerts")
    with open("deploy/grafana/hookbridge-spool-dashboard.json", encoding="utf-8") as f:
        dashboard = f.read()
    rendered = one(docs, "ConfigMap", "hookbridge-spool-dashboard")["data"]["hookbridge-spool-dashboard.json"]
    p.expect(rendered.strip() == dashboard.strip(), "the spool dashboard's ConfigMap carries deploy/grafana's")


def check_strimzi(p, v1, v1beta2):
    """The Strimzi API version follows the cluster's."""
    for docs, want in ((v1, "kafka.strimzi.io/v1"), (v1beta2, "kafka.strimzi.io/v1beta2")):
        versions = {d["apiVersion"] for d in docs if d["kind"] in ("KafkaTopic", "KafkaUser")}
        p.expect(versions == {want}, f"Strimzi apiVersion {versions}, expected {want}")
    user = one(v1, "KafkaUser")
    p.expect(user["spec"]["authentication"]["type"] == "scram-sha-512", "production KafkaUser is SCRAM")


def check_default(p, docs):
    """The defaults: nothing optional, a ClusterIP Service, CPU scaling, the published image."""
    p.expect(not kinds(docs, "Secret"), "no Secret with existingSecret")
    deploy = one(docs, "Deployment")
    image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    p.expect(image.startswith("ghcr.io/hookbridge/hookbridge:"), f"the published image by default: {image}")
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    p.expect(set(labels) == {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version"}, "pod labels")
    svc = one(docs, "Service", "hookbridge")["spec"]
    p.expect(svc["type"] == "ClusterIP" and "externalTrafficPolicy" not in svc, "ClusterIP Service")
    p.expect(not kinds(docs, "StatefulSet") and len(kinds(docs, "Service")) == 2, "no StatefulSet nor headless Service by default")
    config = one(docs, "ConfigMap", "hookbridge")["data"]["hookbridge.toml"]
    p.expect("spool" not in tomllib.loads(config), "no [spool] by default")


def features(args):
    p = Problems()
    d = args.dir
    check_default(p, load(f"{d}/helm-default.yaml"))
    check_full(p, load(f"{d}/helm-full.yaml"))
    check_keda(p, load(f"{d}/helm-keda.yaml"))
    check_persistence(p, load(f"{d}/helm-persistence.yaml"))
    check_strimzi(p, load(f"{d}/helm-production.yaml"), load(f"{d}/helm-production-v1beta2.yaml"))
    p.finish("chart options render what they promise")


def release_package(args):
    """The packaged chart: version and appVersion, the image pinned by digest, the changes."""
    p = Problems()
    with tarfile.open(args.package) as tgz:
        chart = yaml.safe_load(tgz.extractfile("hookbridge/Chart.yaml"))
        names = tgz.getnames()
    p.expect(chart["version"] == args.version and chart["appVersion"] == args.version,
             f"version {chart['version']} / appVersion {chart['appVersion']}")
    images = yaml.safe_load(io.StringIO(chart["annotations"]["artifacthub.io/images"]))
    p.expect(images[0]["image"] == f"{args.image}:{args.version}@{args.digest}", f"image annotation {images}")
    changes = yaml.safe_load(io.StringIO(chart["annotations"]["artifacthub.io/changes"]))
    p.expect(changes and all(c["kind"] in {"added", "changed", "deprecated", "removed", "fixed", "security"}
                             and c["description"] for c in changes), f"changes annotation {changes}")
    for wanted in ("hookbridge/README.md", "hookbridge/values.schema.json", "hookbridge/templates/tests/readyz.yaml"):
        p.expect(wanted in names, f"{wanted} in the package")
    for unwanted in ("hookbridge/ci/full-values.yaml", "hookbridge/README.md.gotmpl"):
        p.expect(unwanted not in names, f"{unwanted} left out of the package")
    p.finish(f"{args.package}: {len(changes)} changes, image pinned")


def versions(args):
    """Chart.yaml's version and appVersion are Cargo.toml's: a release tags all three alike."""
    p = Problems()
    chart = yaml.safe_load(open(args.chart, encoding="utf-8"))
    crate = re.search(r'^version = "([^"]+)"', open(args.cargo, encoding="utf-8").read(), re.M).group(1)
    p.expect(chart["version"] == crate and chart["appVersion"] == crate,
             f"Chart.yaml {chart['version']}/{chart['appVersion']} but Cargo.toml {crate}")
    images = yaml.safe_load(io.StringIO(chart["annotations"]["artifacthub.io/images"]))
    values = yaml.safe_load(open(args.values, encoding="utf-8"))
    p.expect(images[0]["image"] == f"{values['image']['repository']}:{crate}", f"artifacthub.io/images {images}")
    p.finish(f"chart and crate at {crate}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(required=True)
    s = sub.add_parser("features"); s.add_argument("dir"); s.set_defaults(fn=features)
    s = sub.add_parser("release-package"); s.add_argument("package"); s.add_argument("version")
    s.add_argument("image"); s.add_argument("digest"); s.set_defaults(fn=release_package)
    s = sub.add_parser("versions"); s.add_argument("chart"); s.add_argument("values"); s.add_argument("cargo")
    s.set_defaults(fn=versions)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
