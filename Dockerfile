# Build and run Meridian in a container. Used by docker-compose.yml.
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/meridian /usr/local/bin/meridian
COPY zones /etc/meridian/zones
COPY geoip /etc/meridian/geoip
WORKDIR /etc/meridian
ENV MERIDIAN_LISTEN=0.0.0.0:53 \
    MERIDIAN_ADMIN_LISTEN=0.0.0.0:9153 \
    MERIDIAN_ZONES_DIR=/etc/meridian/zones \
    MERIDIAN_GEOIP=/etc/meridian/geoip/geo-whois-asn-country.mmdb
EXPOSE 53/udp 53/tcp 9153/tcp
ENTRYPOINT ["meridian"]
CMD ["serve"]
