# syntax=docker/dockerfile:1
# authpilot: multi-stage build. The runtime is Debian with Debian's chromium
# (portal flows) and tini as PID 1 so Chromium's children are reaped.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/authpilot ./cmd/authpilot

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium tini ca-certificates fonts-liberation tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/authpilot --create-home authpilot \
 && mkdir -p /etc/authpilot && chown authpilot /var/lib/authpilot
COPY --from=build /out/authpilot /usr/local/bin/authpilot
ENV AUTHPILOT_CHROMIUM=/usr/lib/chromium/chromium \
    AUTHPILOT_CONFIG=/etc/authpilot/authpilot.yaml \
    TMPDIR=/var/lib/authpilot/tmp
USER authpilot
RUN mkdir -p /var/lib/authpilot/tmp
VOLUME ["/var/lib/authpilot"]
EXPOSE 8600
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/authpilot"]
CMD ["run"]
