#!/usr/bin/env bash
# Packages the Helm chart for a release, as .github/workflows/release.yml does:
#
#   scripts/package-chart.sh VERSION DIGEST OUTDIR
#
# VERSION is the release tag without its "v" (e.g. 0.2.0), DIGEST the image's sha256 digest
# as pushed ("sha256:…"). The chart's version and appVersion become VERSION; its Artifact Hub
# annotations get the image by tag and digest and the release's changes, read from the
# "## [VERSION]" section of CHANGELOG.md. Refuses a VERSION that is not Cargo.toml's (the
# binary's --version must be the image's tag) or that CHANGELOG.md does not describe.
# Prints the path of the .tgz. Needs helm and python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -ne 3 ]; then
  echo "usage: $0 VERSION DIGEST OUTDIR" >&2
  exit 2
fi
version="$1" digest="$2" outdir="$3"
chart=helm/hookbridge

if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "error: version $version is not semver (MAJOR.MINOR.PATCH[-PRE])" >&2
  exit 1
fi
if ! [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
  echo "error: digest $digest is not sha256:<64 hex digits>" >&2
  exit 1
fi
crate_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
if [ "$crate_version" != "$version" ]; then
  echo "error: the tag says $version but Cargo.toml says $crate_version: bump Cargo.toml (and the chart) first" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$chart" "$work/hookbridge"
python3 - "$work/hookbridge/Chart.yaml" "$version" "$digest" CHANGELOG.md <<'PY'
import re, sys

chart_path, version, digest, changelog_path = sys.argv[1:]

# The release's section of CHANGELOG.md: "### Added" etc. with "- " items.
kinds = {"added": "added", "changed": "changed", "deprecated": "deprecated",
         "removed": "removed", "fixed": "fixed", "security": "security"}
section, kind, changes = False, None, []
for line in open(changelog_path, encoding="utf-8"):
    heading = re.match(r"^## \[([^\]]+)\]", line)
    if heading:
        section = heading.group(1) == version
        continue
    if not section:
        continue
    sub = re.match(r"^### (\w+)", line)
    if sub:
        kind = kinds.get(sub.group(1).lower())
        continue
    item = re.match(r"^- (.+)", line)
    if item and kind:
        changes.append((kind, item.group(1).strip()))
    elif changes and line.startswith("  ") and line.strip():
        k, text = changes[-1]
        changes[-1] = (k, f"{text} {line.strip()}")
if not changes:
    sys.exit(f"error: CHANGELOG.md has no '## [{version}]' section with items under ### Added/Changed/Fixed/…")

text = open(chart_path, encoding="utf-8").read()
text, n = re.subn(r"(image: \S+?):[^\s@]+\n", lambda m: f"{m.group(1)}:{version}@{digest}\n", text, count=1)
if n != 1:
    sys.exit("error: Chart.yaml has no artifacthub.io/images entry to pin")
def quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
block = "  artifacthub.io/changes: |\n" + "".join(
    f"    - kind: {k}\n      description: {quoted(d)}\n" for k, d in changes)
text = text.rstrip("\n") + "\n" + block
open(chart_path, "w", encoding="utf-8").write(text)
PY
mkdir -p "$outdir"
helm lint --strict "$work/hookbridge" --set credentialsSecret.existingSecret=hookbridge-credentials >&2
helm package "$work/hookbridge" --version "$version" --app-version "$version" -d "$outdir" >&2
echo "$outdir/hookbridge-$version.tgz"
