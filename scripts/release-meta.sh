#!/usr/bin/env bash
# What a release tag publishes, as KEY=VALUE lines for $GITHUB_OUTPUT
# (.github/workflows/release.yml):
#
#   scripts/release-meta.sh v0.2.0
#   version=0.2.0
#   image=ghcr.io/hookbridge/hookbridge
#   registry=ghcr.io
#   chart_repo=oci://ghcr.io/hookbridge/charts
#
# The image path has one home, the chart's default `image.repository`
# (helm/hookbridge/values.yaml), so the chart installs what the pipeline pushes; the chart
# goes to the "charts" repository beside it. Refuses a tag that is not vMAJOR.MINOR.PATCH[-PRE],
# a version that Cargo.toml does not carry, and (on GitHub, where GITHUB_REPOSITORY_OWNER is
# set) an image path under another owner than the repository's, which its token cannot push to.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:?usage: $0 TAG}"
if ! [[ "$tag" =~ ^v([0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?)$ ]]; then
  echo "error: tag $tag is not vMAJOR.MINOR.PATCH[-PRERELEASE]" >&2
  exit 1
fi
version="${BASH_REMATCH[1]}"
crate_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
if [ "$crate_version" != "$version" ]; then
  echo "error: tag $tag but Cargo.toml's version is $crate_version" >&2
  exit 1
fi
# The first `repository:` of values.yaml is image.repository (the file starts with `image:`).
image="$(sed -n 's/^  repository: *\([^ #]*\).*$/\1/p' helm/hookbridge/values.yaml | head -n 1)"
if ! [[ "$image" =~ ^([a-z0-9.-]+\.[a-z]{2,}(:[0-9]+)?)/([a-z0-9._-]+)/[a-z0-9._/-]+$ ]]; then
  echo "error: image.repository '$image' in helm/hookbridge/values.yaml is not REGISTRY/OWNER/NAME" >&2
  exit 1
fi
registry="${BASH_REMATCH[1]}"
owner="${BASH_REMATCH[3]}"
if [ -n "${GITHUB_REPOSITORY_OWNER:-}" ] && [ "$registry" = ghcr.io ] \
  && [ "$owner" != "$(tr '[:upper:]' '[:lower:]' <<<"$GITHUB_REPOSITORY_OWNER")" ]; then
  echo "error: image.repository is under ghcr.io/$owner, but this repository's owner is $GITHUB_REPOSITORY_OWNER: change image.repository in helm/hookbridge/values.yaml" >&2
  exit 1
fi
printf 'version=%s\nimage=%s\nregistry=%s\nchart_repo=oci://%s/%s/charts\n' \
  "$version" "$image" "$registry" "$registry" "$owner"
