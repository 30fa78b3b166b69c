# syntax=docker/dockerfile:1
#
# collab-gateway image. Build from the repository root:
#   docker build -t collab-gateway .
# The whole workspace is copied (cargo needs every member's manifest), minus
# what .dockerignore leaves out; only the collab-server package is built.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds; the binary
# is copied out of the cached target dir inside the same RUN.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p collab-server \
 && install -D -m 0755 target/release/collab-gateway /out/collab-gateway

FROM debian:bookworm-slim AS runtime
# A fixed numeric uid so that runAsNonRoot-style checks can verify it.
RUN groupadd --system --gid 10001 collab \
 && useradd --system --uid 10001 --gid collab --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin collab
COPY --from=builder /out/collab-gateway /usr/local/bin/collab-gateway
ENV COLLAB_LISTEN=0.0.0.0:8080 \
    COLLAB_LOG_FORMAT=json
EXPOSE 8080
USER 10001:10001
# /healthz answers 200 while the process serves. The slim image has no curl:
# bash's /dev/tcp does the request, on the port taken from COLLAB_LISTEN.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${COLLAB_LISTEN##*:} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/collab-gateway"]
