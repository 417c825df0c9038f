# shellcheck shell=bash
# The Helm chart's checks of scripts/validate-deploy.sh (sourced by it, which provides
# helm_template, expect_render_failure, CHART, WORK, PY, KUBE_VERSION): every rendering the
# other checks read, each option's passing case, each guard's must-fail case, the generated
# chart README, the release packaging, and the workflows.

# The one choice the chart cannot make for you: where the credential values come from.
CREDENTIALS=(--set credentialsSecret.existingSecret=hookbridge-credentials)
CRD_API_VERSIONS=(--api-versions monitoring.coreos.com/v1 --api-versions kafka.strimzi.io/v1beta2
  --api-versions gateway.networking.k8s.io/v1)

check_helm_lint() {
  helm lint --strict --kube-version "$KUBE_VERSION" "$CHART" "${CREDENTIALS[@]}"
  helm lint --strict --kube-version "$KUBE_VERSION" "$CHART" -f "$CHART/ci/full-values.yaml"
  helm lint --strict --kube-version "$KUBE_VERSION" "$CHART" -f "$CHART/ci/persistence-values.yaml"
  helm lint --strict --kube-version "$KUBE_VERSION" "$CHART" -f "$CHART/examples/production-values.yaml"
  helm lint --strict --kube-version "$KUBE_VERSION" "$CHART" -f "$CHART/examples/production-values.yaml" \
    -f "$CHART/examples/keda-values.yaml"
}

check_helm_template() {
  helm_template "$WORK/helm-default.yaml" "${CREDENTIALS[@]}"
  helm_template "$WORK/helm-full.yaml" -f "$CHART/ci/full-values.yaml" "${CRD_API_VERSIONS[@]}"
  # The production example on a cluster with Strimzi >= 0.49 (v1), and on an older one.
  helm_template "$WORK/helm-production.yaml" -f "$CHART/examples/production-values.yaml" \
    "${CRD_API_VERSIONS[@]}" --api-versions kafka.strimzi.io/v1
  helm_template "$WORK/helm-production-v1beta2.yaml" -f "$CHART/examples/production-values.yaml" \
    "${CRD_API_VERSIONS[@]}"
  helm_template "$WORK/helm-keda.yaml" -f "$CHART/examples/production-values.yaml" \
    -f "$CHART/examples/keda-values.yaml" "${CRD_API_VERSIONS[@]}"
  # The persistence mode: a StatefulSet with a spool volume per pod, the spool's alerts and dashboard.
  helm_template "$WORK/helm-persistence.yaml" -f "$CHART/ci/persistence-values.yaml" "${CRD_API_VERSIONS[@]}"
  # The commands of docs/kubernetes.md (step 4, and its Amazon MSK variant).
  local prod=(-f "$CHART/examples/production-values.yaml" "${CRD_API_VERSIONS[@]}"
    --set 'ingress.hosts={hooks.example.com}'
    --set 'ingress.tls[0].secretName=hooks-example-com-tls' --set 'ingress.tls[0].hosts={hooks.example.com}'
    --set metrics.serviceMonitor.labels.release=kube-prometheus-stack
    --set metrics.prometheusRule.labels.release=kube-prometheus-stack)
  helm_template "$WORK/docs-step4.yaml" "${prod[@]}"
  helm_template "$WORK/docs-msk.yaml" "${prod[@]}" \
    --set config.kafka.brokers='b-1.c.kafka.r.amazonaws.com:9096\,b-2.c.kafka.r.amazonaws.com:9096' \
    --set kafkaUser.enabled=false --set kafka.sasl.mechanism=SCRAM-SHA-512 \
    --set kafka.sasl.existingSecret=hookbridge-kafka-user --set kafka.sasl.usernameKey=username \
    --set kafka.tls.caSecret= --set kafkaTopics.enabled=false --set networkPolicy.kafka.port=9096 \
    --set-json 'networkPolicy.kafka.to=[]'
  # The chart's defaults with the optional monitoring objects, to compare with deploy/.
  helm_template "$WORK/helm-monitoring.yaml" "${CREDENTIALS[@]}" --set metrics.grafanaDashboard.enabled=true \
    --api-versions monitoring.coreos.com/v1
  local f
  for f in default full production keda persistence monitoring; do
    printf '    helm-%s.yaml: %s objects\n' "$f" "$(grep -c '^kind:' "$WORK/helm-$f.yaml")"
  done
  if grep -q 'kind: ServiceMonitor' "$WORK/helm-default.yaml"; then
    echo "a ServiceMonitor was rendered without monitoring.coreos.com/v1" >&2
    return 1
  fi
}

# shellcheck disable=SC2016 # the backquotes are literal text of the NOTES
check_chart_features() {
  "$PY" scripts/chart_checks.py features "$WORK"
  "$PY" scripts/chart_checks.py versions "$CHART/Chart.yaml" "$CHART/values.yaml" Cargo.toml
  # NOTES: one line each for the ServiceMonitor and the PrometheusRule, saying when a stock
  # kube-prometheus-stack would not select them, and when they are not rendered at all.
  local notes
  notes="$(render_notes "${CREDENTIALS[@]}" --api-versions monitoring.coreos.com/v1)"
  expect_notes "$notes" 'ServiceMonitor "hookbridge" is installed but has no `release` label'
  expect_notes "$notes" 'PrometheusRule "hookbridge" is installed but has no `release` label'
  notes="$(render_notes "${CREDENTIALS[@]}" --set metrics.prometheusRule.enabled=false)"
  expect_notes "$notes" 'No ServiceMonitor: this cluster does not serve monitoring.coreos.com/v1'
  expect_notes "$notes" 'No PrometheusRule: metrics.prometheusRule.enabled is false'
  notes="$(render_notes -f "$CHART/examples/production-values.yaml" --api-versions monitoring.coreos.com/v1)"
  expect_notes "$notes" 'the label release=kube-prometheus-stack'
  expect_notes "$notes" 'https://hooks.example.com/everbright/<event>'
  notes="$(render_notes --set credentialsSecret.generate=true)"
  expect_notes "$notes" 'Argo CD, Flux or `helm template`'
  expect_notes "$notes" 'rollout status deployment/hookbridge'
  notes="$(render_notes -f "$CHART/ci/persistence-values.yaml")"
  expect_notes "$notes" 'rollout status statefulset/hookbridge'
}

# render_notes [helm template args...]: the chart's NOTES.txt as `helm install` prints it
# (helm template leaves NOTES out: a copy of the chart renders it as YAML comments).
render_notes() {
  local copy="$WORK/notes-chart"
  if [ ! -d "$copy" ]; then
    mkdir -p "$copy"
    cp -r "$CHART" "$copy/"
    printf '%s\n' '{{- include (print $.Template.BasePath "/NOTES.txt") . | replace "\n" "\n#| " | printf "#| %s" }}' \
      >"$copy/hookbridge/templates/zz-notes.yaml"
  fi
  helm template hookbridge "$copy/hookbridge" --namespace hookbridge --kube-version "$KUBE_VERSION" \
    --show-only templates/zz-notes.yaml "$@" | sed -n 's/^#| \{0,1\}//p'
}

# expect_notes NOTES TEXT: the rendered NOTES say TEXT.
expect_notes() {
  if ! grep -qF -- "$2" <<<"$1"; then
    printf 'NOTES do not say "%s":\n%s\n' "$2" "$1" >&2
    return 1
  fi
  echo "    NOTES say: $2"
}

check_helm_rejects() {
  local creds=("${CREDENTIALS[@]}")
  expect_render_failure "a typo in a config key" "max_inflght" "${creds[@]}" --set config.server.max_inflght=1
  expect_render_failure "a literal secret in values" "client_secret" "${creds[@]}" \
    --set 'credentials[0].name=x' --set 'credentials[0].scheme=hmac-sha256' \
    --set 'credentials[0].client_secret=literal'
  expect_render_failure "a field of another scheme" "username" "${creds[@]}" \
    --set 'credentials[0].name=x' --set 'credentials[0].scheme=token' \
    --set 'credentials[0].value.secretKey=k' --set 'credentials[0].username=u'
  expect_render_failure "a key hookbridge owns in kafka.properties" "acks" "${creds[@]}" \
    --set config.kafka.properties.acks=all
  expect_render_failure "a grace period shorter than preStop + shutdown_grace" \
    "terminationGracePeriodSeconds" "${creds[@]}" --set terminationGracePeriodSeconds=20
  expect_render_failure "a grace period without room for the Kafka flush (5 + 20 + 5 s)" \
    "config.kafka.ack_timeout (the Kafka flush): 30 s" "${creds[@]}" --set terminationGracePeriodSeconds=30
  expect_render_failure "Kubernetes older than 1.30 (no sleep action)" "kubeVersion" "${creds[@]}" \
    --kube-version 1.29.0
  expect_render_failure "SASL without a password Secret" "kafka.sasl.existingSecret" "${creds[@]}" \
    --set kafka.sasl.mechanism=SCRAM-SHA-512 --set kafka.sasl.username=u
  expect_render_failure "topics smaller than the largest record" "max.message.bytes" "${creds[@]}" \
    --set kafkaTopics.enabled=true --set kafkaTopics.clusterName=c \
    --set 'kafkaTopics.config.max\.message\.bytes=1048588'
  # Item 2: credential values must come from somewhere explicit.
  expect_render_failure "credential keys without a value, existingSecret or generate" \
    "credentialsSecret: no value for engine-client-secret"
  # Item 3: Service fields the API server would refuse, an Ingress or HTTPRoute without a target.
  expect_render_failure "externalTrafficPolicy on a ClusterIP Service" \
    "service.externalTrafficPolicy applies only to service.type NodePort or LoadBalancer" "${creds[@]}" \
    --set service.externalTrafficPolicy=Local
  expect_render_failure "loadBalancerSourceRanges on a NodePort Service" \
    "service.loadBalancerSourceRanges applies only to service.type LoadBalancer" "${creds[@]}" \
    --set service.type=NodePort --set 'service.loadBalancerSourceRanges={198.51.100.0/24}'
  expect_render_failure "a source range that is not a CIDR" "loadBalancerSourceRanges" "${creds[@]}" \
    --set service.type=LoadBalancer --set 'service.loadBalancerSourceRanges={everbright}'
  expect_render_failure "an Ingress without hosts" "ingress.hosts is empty" "${creds[@]}" \
    --set ingress.enabled=true
  expect_render_failure "an HTTPRoute without a Gateway" "httpRoute.parentRefs is empty" "${creds[@]}" \
    --set httpRoute.enabled=true
  # Item 4: escape hatches stay typed.
  expect_render_failure "an extra container without an image" "image" "${creds[@]}" \
    --set 'extraContainers[0].name=sidecar'
  expect_render_failure "an extra container named hookbridge" "the name \"hookbridge\" is taken" "${creds[@]}" \
    --set 'extraContainers[0].name=hookbridge' --set 'extraContainers[0].image=x'
  expect_render_failure "a Recreate strategy with rollingUpdate" "type Recreate takes no rollingUpdate" \
    "${creds[@]}" --set updateStrategy.type=Recreate
  expect_render_failure "an unknown update strategy" "updateStrategy" "${creds[@]}" \
    --set updateStrategy.type=BlueGreen
  expect_render_failure "envFrom with neither configMapRef nor secretRef" "envFrom" "${creds[@]}" \
    --set 'envFrom[0].prefix=X_'
  expect_render_failure "an extraObject that is neither a map nor a string" "extraObjects" "${creds[@]}" \
    --set 'extraObjects[0]=1'
  # Item 5: alert tuning names real alerts and real thresholds.
  expect_render_failure "a threshold the alert does not have" "not a threshold of that alert" "${creds[@]}" \
    --api-versions monitoring.coreos.com/v1 \
    --set-json 'metrics.prometheusRule.overrides={"HookbridgeTargetDown":{"p99Seconds":1}}' \
    --skip-schema-validation
  expect_render_failure "disabling an alert that does not exist" "HookbridgeNoSuchAlert" "${creds[@]}" \
    --set metrics.prometheusRule.disabled.HookbridgeNoSuchAlert=true
  expect_render_failure "a job label Prometheus would refuse" "jobLabel" "${creds[@]}" \
    --set 'metrics.jobLabel=hook bridge'
  # Item 6: a KafkaUser needs its cluster.
  expect_render_failure "a KafkaUser without a Strimzi cluster" "kafkaUser.enabled needs kafkaTopics.clusterName" \
    "${creds[@]}" --set kafkaUser.enabled=true
  # Item 7: one owner of the replica count; an HPA needs a metric.
  expect_render_failure "the chart's HPA and KEDA at once" "autoscaling.enabled and autoscaling.external" \
    "${creds[@]}" --set autoscaling.external=true
  expect_render_failure "an HPA without a metric" "autoscaling.enabled needs a metric" "${creds[@]}" \
    --set autoscaling.targetCPUUtilizationPercentage=null
  # Issue 18: persistence that would lose, strand or overfill a spool.
  local persist=("${creds[@]}" --set persistence.enabled=true)
  expect_render_failure "a volume size that is not a quantity" "persistence.size" "${persist[@]}" \
    --set persistence.size=lots
  expect_render_failure "a spool larger than its volume" \
    "persistence.maxBytes (20000000000) exceeds persistence.size (10Gi = 10737418240 bytes)" "${persist[@]}" \
    --set persistence.size=10Gi --set persistence.maxBytes=20000000000
  expect_render_failure "a volume too small for two segments" "below its minimum of 33554432" "${persist[@]}" \
    --set persistence.size=30Mi
  expect_render_failure "a single pod with persistence" "persistence.enabled needs at least 2 pods (replicaCount is 1)" \
    "${persist[@]}" --set autoscaling.enabled=false --set replicaCount=1
  expect_render_failure "an HPA that may go down to one pod with persistence" \
    "persistence.enabled needs at least 2 pods (autoscaling.minReplicas is 1)" "${persist[@]}" \
    --set autoscaling.minReplicas=1
  expect_render_failure "claims deleted on scale-down" "whenScaled=Delete would delete a scaled-down pod's spool" \
    "${persist[@]}" --set persistence.persistentVolumeClaimRetentionPolicy.whenScaled=Delete
  expect_render_failure "a volume the non-root user cannot write" "persistence.enabled needs podSecurityContext.fsGroup" \
    "${persist[@]}" --set podSecurityContext.fsGroup=null
  expect_render_failure "a grace period without time to drain the spool" \
    "persistence.terminationGracePeriodSeconds (90) must exceed preStopSleepSeconds + config.server.shutdown_grace + persistence.drainTimeout + config.kafka.ack_timeout (the Kafka flush): 90 s" \
    "${persist[@]}" --set persistence.terminationGracePeriodSeconds=90
}

check_chart_readme() {
  # helm-docs writes README.md from README.md.gotmpl and the `# --` comments of values.yaml.
  local copy="$WORK/readme-chart"
  rm -rf "$copy"
  mkdir -p "$copy"
  cp -r "$CHART" "$copy/"
  helm-docs --log-level warning --chart-search-root "$copy" --template-files README.md.gotmpl
  if ! diff -u "$CHART/README.md" "$copy/hookbridge/README.md"; then
    echo "$CHART/README.md is not current: run .tools/bin/helm-docs --chart-search-root helm --template-files README.md.gotmpl" >&2
    return 1
  fi
  echo "    $CHART/README.md is current ($(grep -c '^| ' "$CHART/README.md") table rows)"
}

check_release() {
  # Everything of .github/workflows/release.yml up to the pushes: the tag's metadata, the
  # chart package, and the refusals that stop a broken release before it publishes.
  local version meta package digest
  version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
  meta="$(scripts/release-meta.sh "v$version")"
  grep -qx "image=$(sed -n 's/^image=//p' <<<"$meta")" <<<"$meta"
  digest="sha256:$(printf 'hookbridge release check' | sha256sum | cut -d' ' -f1)"
  package="$(scripts/package-chart.sh "$version" "$digest" "$WORK/release")"
  helm lint --strict "$package" "${CREDENTIALS[@]}"
  "$PY" scripts/chart_checks.py release-package "$package" "$version" \
    "$(sed -n 's/^image=//p' <<<"$meta")" "$digest"
  expect_command_failure "a tag that is not Cargo.toml's version" "Cargo.toml's version" \
    scripts/release-meta.sh v99.0.0
  expect_command_failure "a tag without the v" "is not vMAJOR.MINOR.PATCH" scripts/release-meta.sh "$version"
  expect_command_failure "an image path the repository's owner cannot push to" "change image.repository" \
    env GITHUB_REPOSITORY_OWNER=someone-else scripts/release-meta.sh "v$version"
  expect_command_failure "a package of another version than Cargo.toml's" "bump Cargo.toml" \
    scripts/package-chart.sh 99.0.0 "$digest" "$WORK/release"
  expect_command_failure "a malformed digest" "is not sha256" \
    scripts/package-chart.sh "$version" sha256:abc "$WORK/release"
}

# expect_command_failure DESCRIPTION EXPECTED-TEXT COMMAND...: COMMAND fails saying EXPECTED-TEXT.
expect_command_failure() {
  local what="$1" expected="$2" out
  shift 2
  if out="$("$@" 2>&1)"; then
    echo "succeeded, but should not: $what" >&2
    return 1
  fi
  if ! grep -qF -- "$expected" <<<"$out"; then
    printf 'failed without saying "%s": %s\n%s\n' "$expected" "$what" "$out" >&2
    return 1
  fi
  echo "    refused as expected: $what"
}

check_ct_lint() {
  # chart-testing's lint: Chart.yaml against its schema, yamllint on the chart's YAML, and
  # helm lint with every values file in ci/. No version-increment check (no remote to
  # compare with) and no maintainer lookup (no GitHub from these machines).
  ct lint --charts "$CHART" --validate-maintainers=false --check-version-increment=false \
    --chart-yaml-schema "$ROOT/$TOOLS/ct/chart_schema.yaml" \
    --lint-conf "$ROOT/$TOOLS/ct/lintconf.yaml"
}

check_actionlint() {
  # actionlint runs shellcheck (on PATH from .tools/venv) on every `run:` script too.
  actionlint -color=false .github/workflows/*.yml
  echo "    $(find .github/workflows -name '*.yml' | wc -l) workflows are clean"
}
