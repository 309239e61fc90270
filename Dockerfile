# syntax=docker/dockerfile:1
# Meridian in a container: a release build, then a small runtime image running as a
# non-root user. Used by docker-compose.yml; also works alone:
#   docker build -t meridian .
#   docker run --rm -p 127.0.0.1:5353:53/udp -p 127.0.0.1:5353:53/tcp meridian
# Port 53 is bound without root: Docker sets net.ipv4.ip_unprivileged_port_start=0 in
# containers (docker-compose.yml sets it explicitly for other runtimes).

ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# protoc and the protobuf well-known types build the etcd client of cluster mode.
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler \
    libprotobuf-dev && rm -rf /var/lib/apt/lists/*
COPY . .
# The registry and target caches survive between builds (BuildKit); the binary is copied
# out of the cached target directory so the next stage can take it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --features cluster --bin meridian \
    && install -m 0755 target/release/meridian /usr/local/bin/meridian

FROM debian:bookworm-slim
RUN groupadd --system --gid 10053 meridian \
    && useradd --system --uid 10053 --gid meridian --home-dir /var/lib/meridian \
       --shell /usr/sbin/nologin meridian \
    && install -d -o meridian -g meridian -m 0750 /var/lib/meridian
COPY --from=build /usr/local/bin/meridian /usr/local/bin/meridian
COPY zones /etc/meridian/zones
COPY geoip /etc/meridian/geoip
WORKDIR /etc/meridian
ENV MERIDIAN_LISTEN=0.0.0.0:53 \
    MERIDIAN_ADMIN_LISTEN=0.0.0.0:9153 \
    MERIDIAN_ZONES_DIR=/etc/meridian/zones \
    MERIDIAN_GEOIP=/etc/meridian/geoip/geo-whois-asn-country.mmdb
USER meridian:meridian
EXPOSE 53/udp 53/tcp 9153/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["meridian"]
CMD ["serve"]
