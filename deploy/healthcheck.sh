#!/bin/bash
# healthcheck.sh [PATH] — exits 0 when convoyd on 127.0.0.1:${CONVOY_HEALTH_PORT:-8080}
# answers HTTP 200 to GET PATH (default /healthz), else 1. Bash's /dev/tcp
# only: the runtime image carries no curl. Used by the image's HEALTHCHECK
# and by compose; probes need no API key (design.md §3).
set -u
path=${1:-/healthz}
port=${CONVOY_HEALTH_PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 5 _ code _ <&3 || exit 1
[ "$code" = 200 ]
