# syntax=docker/dockerfile:1
# monday-operator image: a static musl binary on distroless/static (no shell, no package manager),
# running as the fixed non-root UID 65532 that the Helm chart's securityContext expects.
#
#   docker build -t monday-operator:0.1.0 .

# ---- build ---------------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder

# musl-gcc compiles the bundled C code (SQLite in rusqlite, zstd, ring) for the musl target.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl

# Only the C compiler: rustc links the musl target itself (static-pie, its own musl crt and libc).
# Making musl-gcc the linker too yields a binary that asks for /lib/ld-musl-x86_64.so.1 (Debian's
# musl-gcc specs ignore -static-pie), which distroless/static does not have: it would not start.
ENV CC_x86_64_unknown_linux_musl=musl-gcc \
    CARGO_TERM_COLOR=never

WORKDIR /src
# Only what the build needs (see .dockerignore): the workspace manifests, the operator's sources,
# and the emulator, ConductorOne double and bench folders because the workspace manifest names
# them (neither test double is built into the image).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY emulator ./emulator
COPY conductorone-double ./conductorone-double
COPY benches ./benches

# The registry and target caches survive between builds; the binary is copied out of the cache
# mount in the same step so it lands in the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl --bin monday-operator \
    && install -D -m 0755 target/x86_64-unknown-linux-musl/release/monday-operator /out/monday-operator \
    && install -d -o 65532 -g 65532 /out/var/lib/monday-operator

# ---- runtime -------------------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="monday-operator" \
      org.opencontainers.image.description="Kubernetes operator for Monday.com identity governance" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /out/monday-operator /monday-operator
# The default --data-dir, owned by the runtime user (the chart mounts a volume over it).
COPY --from=builder --chown=65532:65532 /out/var/lib/monday-operator /var/lib/monday-operator

USER 65532:65532
# /metrics, /livez, /readyz
EXPOSE 8080
ENTRYPOINT ["/monday-operator", "run"]
