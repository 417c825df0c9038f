#!/usr/bin/env bash
# Runs the exact release build the Dockerfile runs (same command, same environment),
# then the Dockerfile's check that the binary needs no shared library beyond what the
# distroless/cc runtime image has. Fails if the Dockerfile's command has drifted.
set -euo pipefail
cd "$(dirname "$0")/.."

command="cargo build --release --locked --bin hookbridge"
if ! grep -qF "    $command \\" Dockerfile || ! grep -qF "ENV LIBZ_SYS_STATIC=1" Dockerfile; then
  echo "error: the Dockerfile no longer runs '$command' with LIBZ_SYS_STATIC=1; update this script" >&2
  exit 1
fi
LIBZ_SYS_STATIC=1 $command
unexpected="$(ldd target/release/hookbridge | grep -Ev 'linux-vdso|ld-linux|lib(c|m|gcc_s|pthread|dl|rt)\.so' || true)"
if [ -n "$unexpected" ]; then
  echo "error: unexpected shared libraries: $unexpected" >&2
  exit 1
fi
echo "release build ok: $(du -h target/release/hookbridge | cut -f1), needs only glibc and libgcc"
