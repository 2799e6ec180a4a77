# caxton-run from source, in two stages: the build (Rust with the
# wasm32-wasip2 target, which the built-in plugins are compiled for) and a
# slim runtime image with the binary and the shipped workflows.
#
#   docker build -t caxton:latest .
#   docker run --rm caxton:latest scripts/quickstart.rhai
#   (Kubernetes: deploy/kubernetes/, docs/cluster.md)
FROM rust:1.95.0-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin caxton-run

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/caxton caxton \
    && mkdir -p /var/lib/caxton \
    && chown caxton /var/lib/caxton
COPY --from=build /src/target/release/caxton-run /usr/local/bin/caxton-run
COPY scripts /usr/share/caxton/scripts
WORKDIR /usr/share/caxton
USER 10001
EXPOSE 7700/udp 9100/tcp
ENTRYPOINT ["caxton-run"]
CMD ["serve", "--listen", "0.0.0.0:7700", "--metrics", "0.0.0.0:9100", "--data-dir", "/var/lib/caxton/data"]
