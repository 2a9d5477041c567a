#!/usr/bin/env bash
# wait-healthy.sh CONTAINER [MIN_RESTART_COUNT] [TIMEOUT_SECONDS]
# Waits until the container reports `healthy` (and, when MIN_RESTART_COUNT is
# given, until Docker has restarted it at least that many times). Polls
# `docker inspect`: Compose v1 has no `up --wait`.
set -euo pipefail
container="$1"
min_restarts="${2:-0}"
timeout="${3:-90}"
deadline=$((SECONDS + timeout))
status=unknown
while ((SECONDS < deadline)); do
  read -r status restarts < <(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}' "$container" 2>/dev/null || echo "missing 0")
  if [ "$status" = healthy ] && [ "$restarts" -ge "$min_restarts" ]; then
    exit 0
  fi
  sleep 0.5
done
echo "container $container is not healthy after ${timeout}s (status: $status)" >&2
docker logs --tail 30 "$container" >&2 || true
exit 1
