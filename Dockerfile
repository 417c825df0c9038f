# syntax=docker/dockerfile:1.7
# hookbridge container image: a static-enough Rust binary on distroless, no shell, non-root.
#
#   docker build -t REGISTRY/hookbridge:VERSION .
#
# Dependencies are cached with BuildKit cache mounts (cargo registry, git checkouts and
# target/), not with a stub-source layer: a stub breaks as soon as Cargo.toml names explicit
# bench or test targets, and the cache mounts make rebuilds incremental anyway.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# rdkafka bundles librdkafka and a vendored OpenSSL (gcc, g++, make and perl are in this image).
# Its zlib would link to the builder's libz.so.1 dynamically; build it in instead, so that the
# binary needs nothing beyond glibc and libgcc, which distroless/cc provides.
ENV LIBZ_SYS_STATIC=1 \
    CARGO_TERM_COLOR=never
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin hookbridge \
    && install -D -m 0755 target/release/hookbridge /out/hookbridge
# Fail here, not at run time, if the binary needs a shared library the runtime image lacks.
RUN unexpected="$(ldd /out/hookbridge | grep -Ev 'linux-vdso|ld-linux|lib(c|m|gcc_s|pthread|dl|rt)\.so' || true)" \
    && if [ -n "$unexpected" ]; then echo "unexpected shared libraries: $unexpected" >&2; exit 1; fi

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/hookbridge /usr/local/bin/hookbridge
# The image's nonroot user, numerically, so that runAsNonRoot can be verified by the kubelet.
USER 65532:65532
# 8080: webhooks (server.listen). 9090: /metrics, /livez, /readyz (server.admin_listen).
EXPOSE 8080 9090
# No HEALTHCHECK: there is no shell or HTTP client in the image, and Kubernetes probes
# /livez and /readyz on the admin port instead.
ENTRYPOINT ["/usr/local/bin/hookbridge"]
CMD ["serve", "--config", "/etc/hookbridge/hookbridge.toml"]
