# syntax=docker/dockerfile:1
#
# Kong Gateway with client-ip-guard installed as a Go plugin server.
#
#   docker build -t kong-client-ip-guard .                                      # kong:3.9 (OSS)
#   docker build --build-arg KONG_IMAGE=kong/kong-gateway:3.10 -t kong-cig .    # 3.10+ (Enterprise images)
#
# Kong finds a Go plugin only through its plugin-server settings: the
# binary must be named like the plugin (go-pdk reports the executable's
# name), start_cmd must use an absolute path (Kong starts plugin servers
# with nginx's cleared environment), and the socket Kong dials must be the
# one go-pdk opens: <-kong-prefix>/<name>.socket. Kong 3.0-3.8 dial
# /usr/local/kong/<name>.socket whatever the prefix; 3.9+ dial
# <prefix>/<name>.socket. Both official images use the prefix
# /usr/local/kong, so KONG_PREFIX_DIR below matches either; set it to your
# prefix if you change Kong's (the Helm chart uses /kong_prefix).
#
# The "echo" target is the test upstream `make docker-test` runs next to
# Kong: docker build --target echo -t client-ip-guard-echo .

ARG GO_VERSION=1.26
ARG KONG_IMAGE=kong:3.9

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/client-ip-guard ./plugin/cmd/client-ip-guard \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/pdkserver ./pdkserver/cmd/pdkserver \
 && /out/client-ip-guard -dump >/dev/null

FROM scratch AS echo
COPY --from=build /out/pdkserver /pdkserver
EXPOSE 8080
ENTRYPOINT ["/pdkserver", "-echo-only", "-echo", "0.0.0.0:8080"]

FROM ${KONG_IMAGE}
ARG KONG_PREFIX_DIR=/usr/local/kong
USER root
COPY --from=build /out/client-ip-guard /usr/local/bin/client-ip-guard
RUN chmod 0755 /usr/local/bin/client-ip-guard
USER kong
ENV KONG_PLUGINS=bundled,client-ip-guard \
    KONG_PLUGINSERVER_NAMES=client-ip-guard \
    KONG_PLUGINSERVER_CLIENT_IP_GUARD_SOCKET=${KONG_PREFIX_DIR}/client-ip-guard.socket \
    KONG_PLUGINSERVER_CLIENT_IP_GUARD_START_CMD="/usr/local/bin/client-ip-guard -kong-prefix ${KONG_PREFIX_DIR}" \
    KONG_PLUGINSERVER_CLIENT_IP_GUARD_QUERY_CMD="/usr/local/bin/client-ip-guard -dump"
