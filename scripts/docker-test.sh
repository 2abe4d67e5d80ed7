#!/usr/bin/env bash
# make docker-test: the pdkserver end-to-end scenarios against a real Kong.
#
# Builds the Dockerfile (Kong + client-ip-guard) and its echo upstream, runs
# two DB-less Kong containers from the repository's kong.yml, as pdkserver's demo:
#   alb: trusted_ips = the LB, real_ip_header X-Forwarded-For, recursive on
#   nlb: the same with real_ip_header proxy_protocol on a proxy_protocol listener
# and sends the scenarios of pdkserver/demo/scenarios.go from client
# containers with fixed addresses on a private network (the LB, a direct
# client), reading the plugin's records from Kong's error log.
#
# Without a Docker engine, or without the base image and no way to pull
# it, it says so and exits 0 without claiming a pass.
#
# Environment: KONG_IMAGE (default kong:3.9; kong/kong-gateway:3.10 and
# later work too), KEEP=1 keeps the containers for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."

KONG_IMAGE=${KONG_IMAGE:-kong:3.9}
IMAGE=client-ip-guard-kong:test
ECHO_IMAGE=client-ip-guard-echo:test
NET=cig-test-net
SUBNET=172.31.250.0
LB=172.31.250.2       # the trusted load balancer
DIRECT=172.31.250.3   # a client reaching Kong directly
ALB=172.31.250.10
NLB=172.31.250.11
ECHO=172.31.250.20

skip() { echo "docker-test: NOT RUN: $*"; echo "docker-test: nothing was tested; this is not a pass."; exit 0; }

command -v docker >/dev/null 2>&1 || skip "no docker command on this machine"
docker info >/dev/null 2>&1 || skip "no Docker engine reachable (docker info failed)"
if ! docker image inspect "$KONG_IMAGE" >/dev/null 2>&1; then
  echo "docker-test: pulling $KONG_IMAGE"
  docker pull "$KONG_IMAGE" >/dev/null 2>&1 || skip "base image $KONG_IMAGE is not present and cannot be pulled"
fi

work=$(mktemp -d)
cleanup() {
  if [ "${KEEP:-}" != 1 ]; then
    docker rm -f cig-alb cig-nlb cig-echo >/dev/null 2>&1 || true
    docker network rm "$NET" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The build context is the repository's files (tracked and untracked, not
# ignored): never bin/ or .cache/, whose plugin sockets a context cannot hold.
context() { git ls-files -z -co --exclude-standard | tar --null -T - -cf -; }
echo "docker-test: building $IMAGE from $KONG_IMAGE"
context | docker build -q --build-arg KONG_IMAGE="$KONG_IMAGE" -t "$IMAGE" -f Dockerfile - >/dev/null
context | docker build -q --target echo -t "$ECHO_IMAGE" -f Dockerfile - >/dev/null

docker rm -f cig-alb cig-nlb cig-echo >/dev/null 2>&1 || true
docker network rm "$NET" >/dev/null 2>&1 || true
docker network create --subnet "$SUBNET/24" "$NET" >/dev/null

# The demo's kong.yml with the test network's addresses.
sed -e "s#http://127.0.0.1:18080#http://$ECHO:8080#" \
    -e "s#127.0.0.2/32#$LB/32#g" \
    kong.yml >"$work/kong.yml"
chmod 0644 "$work/kong.yml"

docker run -d --name cig-echo --network "$NET" --ip "$ECHO" "$ECHO_IMAGE" >/dev/null

kong_env=(
  -e KONG_DATABASE=off
  -e KONG_DECLARATIVE_CONFIG=/kong/kong.yml
  -e KONG_TRUSTED_IPS="$LB/32"
  -e KONG_LOG_LEVEL=notice
  -e KONG_PROXY_ERROR_LOG=/dev/stderr
  -e KONG_PROXY_ACCESS_LOG=/dev/stdout
)
docker run -d --name cig-alb --network "$NET" --ip "$ALB" -v "$work/kong.yml:/kong/kong.yml:ro" \
  "${kong_env[@]}" -e KONG_PROXY_LISTEN="0.0.0.0:8000, 0.0.0.0:8443 ssl http2" \
  -e KONG_REAL_IP_HEADER=X-Forwarded-For -e KONG_REAL_IP_RECURSIVE=on "$IMAGE" >/dev/null
docker run -d --name cig-nlb --network "$NET" --ip "$NLB" -v "$work/kong.yml:/kong/kong.yml:ro" \
  "${kong_env[@]}" -e KONG_PROXY_LISTEN="0.0.0.0:8001 proxy_protocol" \
  -e KONG_REAL_IP_HEADER=proxy_protocol -e KONG_REAL_IP_RECURSIVE=off "$IMAGE" >/dev/null

# client FROM ARGS...: run a command in a throwaway container at address FROM.
client() { local from=$1; shift; docker run --rm --network "$NET" --ip "$from" --entrypoint "$1" "$IMAGE" "${@:2}"; }
client "$DIRECT" curl --version >/dev/null 2>&1 || skip "$IMAGE has no curl to act as the test client"
client "$DIRECT" bash -c true >/dev/null 2>&1 || skip "$IMAGE has no bash to send raw PROXY headers"

echo "docker-test: waiting for Kong"
for ctr in alb nlb; do
  for _ in $(seq 1 60); do
    if docker logs "cig-$ctr" 2>&1 | grep -q "start worker process\|Kong started"; then break; fi
    sleep 1
  done
done
sleep 2

records() { docker logs "cig-$1" 2>&1 | grep -c '"verdict"' || true; }
last_record() { docker logs "cig-$1" 2>&1 | grep '"verdict"' | tail -1; }
field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

fail=0
n=0
# check NAME NODE FROM WANT_STATUS WANT_VERDICT WANT_CLIENT -- COMMAND...
# COMMAND runs in a client container at FROM and prints the HTTP status.
check() {
  local name=$1 node=$2 from=$3 want_status=$4 want_verdict=$5 want_client=$6; shift 7
  n=$((n + 1))
  local before status rec verdict kong_ip
  before=$(records "$node")
  status=$(client "$from" "$@" 2>/dev/null || true)
  status=$(printf '%s' "$status" | tr -dc '0-9' | tail -c 3)
  rec=""
  for _ in $(seq 1 50); do
    if [ "$(records "$node")" -gt "$before" ]; then rec=$(last_record "$node"); break; fi
    sleep 0.1
  done
  verdict=$(printf '%s' "$rec" | field verdict)
  kong_ip=$(printf '%s' "$rec" | field kong_client_ip)
  local ok=1
  [ "$status" = "$want_status" ] || ok=0
  [ "$verdict" = "$want_verdict" ] || ok=0
  [ -z "$want_client" ] || [ "$kong_ip" = "$want_client" ] || ok=0
  if [ $ok = 1 ]; then
    printf 'ok    %-42s %s %s %s\n' "$name" "$status" "$verdict" "$kong_ip"
  else
    fail=$((fail + 1))
    printf 'FAIL  %-42s got %s %s %s, want %s %s %s\n' "$name" "${status:-none}" "${verdict:-none}" "${kong_ip:-?}" "$want_status" "$want_verdict" "${want_client:-?}"
  fi
}

curl_status=(curl -s -o /dev/null -w '%{http_code}' --max-time 10)
# proxy_v1 SRC SRCPORT PATH: a PROXY v1 header, then HTTP, through bash's /dev/tcp.
proxy_v1() {
  printf 'exec 3<>/dev/tcp/%s/8001; printf "PROXY TCP4 %s %s %s 8001\\r\\nGET %s HTTP/1.0\\r\\nHost: kong\\r\\n\\r\\n" >&3; head -c 12 <&3 | cut -c10-12' \
    "$NLB" "$1" "$NLB" "$2" "$3"
}

# proxy_v2_tcp6 PATH: a PROXY v2 header for [2001:db8::9]:5555 -> [2001:db8::10]:443, then HTTP.
proxy_v2_tcp6() {
  local hdr='\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x21\x21\x00\x24'
  hdr+='\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09'
  hdr+='\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10'
  hdr+='\x15\xB3\x01\xBB'
  echo "exec 3<>/dev/tcp/$NLB/${2:-8001}; printf '$hdr' >&3; printf 'GET $1 HTTP/1.0\r\nHost: kong\r\n\r\n' >&3; head -c 12 <&3 | cut -c10-12"
}

A=http://$ALB:8000
check "direct client"                    alb "$DIRECT" 200 direct        "$DIRECT"    -- "${curl_status[@]}" "$A/echo"
check "direct client over TLS"           alb "$DIRECT" 200 direct        "$DIRECT"    -- "${curl_status[@]}" -k "https://$ALB:8443/echo"
check "XFF chain via trusted LB"         alb "$LB"     200 ok            203.0.113.7  -- "${curl_status[@]}" -H 'X-Forwarded-For: 198.51.100.1, 203.0.113.7' "$A/echo"
check "spoof from untrusted peer"        alb "$DIRECT" 200 spoof_attempt "$DIRECT"    -- "${curl_status[@]}" -H 'X-Forwarded-For: 1.2.3.4' "$A/echo"
check "spoof, enforce mode"              alb "$DIRECT" 403 spoof_attempt "$DIRECT"    -- "${curl_status[@]}" -H 'X-Forwarded-For: 1.2.3.4' "$A/strict"
check "LB-IP leak (LB sent no XFF)"      alb "$LB"     200 lb_ip_leak    "$LB"        -- "${curl_status[@]}" "$A/echo"
check "malformed chain entry"            alb "$LB"     200 malformed     "$LB"        -- "${curl_status[@]}" -H 'X-Forwarded-For: 203.0.113.7, bogus' "$A/echo"
check "deny list, enforce mode"          alb "$LB"     403 denied        192.0.2.66   -- "${curl_status[@]}" -H 'X-Forwarded-For: 192.0.2.66' "$A/guarded"
check "plugin config differs from Kong's" alb "$LB"    200 config_drift  203.0.113.7  -- "${curl_status[@]}" -H 'X-Forwarded-For: 203.0.113.7' "$A/drift"
check "PROXY v1 via NLB"                 nlb "$LB"     200 ok            198.51.100.9 -- bash -c "$(proxy_v1 198.51.100.9 41000 /nlb)"
check "PROXY v2 (IPv6) via NLB"          nlb "$LB"     200 ok            2001:db8::9  -- bash -c "$(proxy_v2_tcp6 /nlb)"
check "PROXY v1 from untrusted peer (curl --haproxy-protocol)" nlb "$DIRECT" 200 spoof_attempt "$DIRECT" -- "${curl_status[@]}" --haproxy-protocol "http://$NLB:8001/nlb"

check "no PROXY header on a proxy_protocol listener" nlb "$DIRECT" 000 "" "" -- "${curl_status[@]}" "http://$NLB:8001/nlb"

echo
if [ $fail -ne 0 ]; then
  echo "docker-test: $fail of $n scenarios FAILED against $KONG_IMAGE (KEEP=1 keeps the containers)"
  exit 1
fi
echo "docker-test: $n/$n scenarios passed against $KONG_IMAGE"
