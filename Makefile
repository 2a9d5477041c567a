# The stateful service with Docker. `make help` lists the targets.
# Works with Compose v2 (`docker compose`) and falls back to v1 (`docker-compose`).
# Every name here can be overridden from the environment or the command line;
# the lifecycle tests do that to stay clear of your data.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Compose's own COMPOSE_PROJECT_NAME wins, so the targets find a stack that
# `docker compose up` started under it.
COMPOSE_PROJECT ?= $(or $(COMPOSE_PROJECT_NAME),poserforge-stateful)
APP_PORT ?= $(or $(shell sed -n 's/^APP_PORT=//p' .env 2>/dev/null),8091)
export APP_PORT
COMPOSE_BIN := $(shell if docker compose version >/dev/null 2>&1; then echo 'docker compose'; else echo docker-compose; fi)
COMPOSE := $(COMPOSE_BIN) -p $(COMPOSE_PROJECT)
# The client inside the app container talks to the service on its own port.
# It prints tables and `key  value` lines; CLI_FLAGS=--json gives the API's JSON.
CLI_FLAGS ?=
CLI := $(COMPOSE) exec -T app node dist/src/cli/main.js
CLIENT_ARGS := --url http://127.0.0.1:8080 $(CLI_FLAGS)
APP_CONTAINER = $$($(COMPOSE) ps -q app)
BACKUP_DIR ?= backups
# The cluster profile (PostgreSQL, three replicas, a load balancer on APP_PORT).
IMAGE_NAME ?= poserforge-stateful-app
POSTGRES_IMAGE ?= postgres:15-bookworm
HAPROXY_IMAGE ?= haproxy:lts-bookworm
export IMAGE_NAME POSTGRES_IMAGE HAPROXY_IMAGE
CLUSTER := $(COMPOSE) --profile cluster
REPLICAS := app-1 app-2 app-3
ALL_PROFILES := --profile inspect --profile cluster --profile cluster-migrate --profile cluster-inspect
LIMIT ?= 20

.PHONY: help build up down restart logs shell session-create session-list session-get \
        cluster-images postgres-up cluster-up cluster-down cluster-state cluster-logs \
        cluster-migrate cluster-inspect \
        session-delete events state crash inspect test clean reset backup restore base-image

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

base-image: ## make sure node:24-bookworm-slim exists (a local stand-in where no registry is reachable)
	@scripts/docker/standin-images.sh node:24-bookworm-slim

build: base-image ## build the image
	$(COMPOSE) build

up: ## start the service (and wait until it is healthy)
	$(COMPOSE) up -d app
	@scripts/docker/wait-healthy.sh "$(APP_CONTAINER)"
	@echo "The service is up on http://localhost:$(APP_PORT)"

down: ## stop and remove the containers, the cluster's too (the volumes stay)
	$(COMPOSE) $(ALL_PROFILES) down --remove-orphans

restart: ## restart the app container (a clean stop and a new start)
	$(COMPOSE) restart app
	@scripts/docker/wait-healthy.sh "$(APP_CONTAINER)"

logs: ## follow the service's logs
	$(COMPOSE) logs -f app

shell: ## a shell in the running container
	$(COMPOSE) exec app sh

session-create: ## create a session: NAME=… NOTE=… (quotes, spaces, any text)
	@args=(); \
	if [ -n "$${NAME:-}" ]; then args+=(--name "$$NAME"); fi; \
	if [ -n "$${NOTE:-}" ]; then args+=(--note "$$NOTE"); fi; \
	$(CLI) session create $(CLIENT_ARGS) "$${args[@]}"

session-list: ## list all sessions
	@$(CLI) session list $(CLIENT_ARGS)

session-get: ## get one session: ID=<uuid>
	@test -n "$${ID:-}" || { echo "usage: make session-get ID=<uuid>" >&2; exit 2; }
	@$(CLI) session get "$$ID" $(CLIENT_ARGS)

session-delete: ## delete one session: ID=<uuid>
	@test -n "$${ID:-}" || { echo "usage: make session-delete ID=<uuid>" >&2; exit 2; }
	@$(CLI) session delete "$$ID" $(CLIENT_ARGS)

events: ## tail the event log (LIMIT=20)
	@$(CLI) events --limit "$(LIMIT)" $(CLIENT_ARGS)

state: ## show the instance and the persisted counters
	@$(CLI) state $(CLIENT_ARGS)

crash: ## crash the service, wait for Docker to restart it, show the state
	@container="$(APP_CONTAINER)"; \
	restarts=$$(docker inspect -f '{{.RestartCount}}' "$$container"); \
	$(CLI) crash $(CLIENT_ARGS) || true; \
	echo "waiting for Docker to restart the service…"; \
	scripts/docker/wait-healthy.sh "$$container" $$((restarts + 1)); \
	$(CLI) state $(CLIENT_ARGS)

inspect: ## read the volume offline (works with the app stopped or removed)
	@$(COMPOSE) --profile inspect run --rm inspector

test: ## the lifecycle suites against real containers (file store, then the cluster)
	npm run test:docker

backup: ## the volume to $(BACKUP_DIR)/<project>-<date>.tar.gz (the app is paused meanwhile)
	@mkdir -p "$(BACKUP_DIR)"
	@file="$(COMPOSE_PROJECT)-$$(date -u +%Y%m%dT%H%M%SZ).tar.gz"; \
	container="$(APP_CONTAINER)"; \
	if [ -n "$$container" ] && [ "$$(docker inspect -f '{{.State.Running}}' "$$container")" = true ]; then \
	  docker pause "$$container" >/dev/null; trap 'docker unpause "$$container" >/dev/null' EXIT; \
	fi; \
	$(COMPOSE) run --rm --no-deps -T -v "$(abspath $(BACKUP_DIR)):/backups" volume-owner \
	  "tar -czf /backups/$$file -C /data ." ; \
	echo "$(BACKUP_DIR)/$$file"

restore: ## FILE=backups/….tar.gz into the volume (stops the app; FORCE=1 to overwrite data)
	@test -n "$${FILE:-}" && test -f "$$FILE" || { echo "usage: make restore FILE=backups/<file>.tar.gz" >&2; exit 2; }
	$(COMPOSE) stop app
	@$(COMPOSE) run --rm --no-deps -T -v "$$(realpath "$$FILE"):/restore.tar.gz:ro" \
	  -e FORCE="$${FORCE:-}" volume-owner \
	  'if [ -n "$$(ls -A /data)" ]; then \
	     if [ "$$FORCE" != 1 ]; then echo "the volume is not empty: refusing to overwrite it (FORCE=1 to do it anyway)" >&2; exit 3; fi; \
	     find /data -mindepth 1 -delete; \
	   fi; \
	   tar -xzf /restore.tar.gz -C /data && chown -R node:node /data && echo "restored into the volume"'
	@echo "run 'make up' to start the service on the restored data"

clean: ## remove the containers and the app's image (the volumes and base images stay)
	$(COMPOSE) $(ALL_PROFILES) down --remove-orphans
	docker image rm -f "$(IMAGE_NAME):latest" >/dev/null

reset: ## full teardown, including both volumes: ALL DATA IS GONE
	$(COMPOSE) $(ALL_PROFILES) down --volumes --remove-orphans
	docker image rm -f "$(IMAGE_NAME):latest" >/dev/null

# --- Several replicas on PostgreSQL ---------------------------------------------

cluster-images: base-image
	@docker image inspect "$(IMAGE_NAME):latest" >/dev/null 2>&1 || $(COMPOSE) build app
	@scripts/docker/standin-images.sh "$(POSTGRES_IMAGE)" "$(HAPROXY_IMAGE)"

postgres-up: cluster-images
	$(CLUSTER) up -d postgres
	@scripts/docker/wait-healthy.sh "$$($(COMPOSE) ps -q postgres)"

cluster-up: postgres-up ## PostgreSQL, three replicas and a load balancer on APP_PORT (instead of `up`)
	@app="$$($(COMPOSE) ps -q app)"; \
	if [ -n "$$app" ] && [ "$$(docker inspect -f '{{.State.Running}}' "$$app")" = true ]; then \
	  echo "the file-store app is running on this port: 'make down' first (and 'make cluster-migrate' to bring its data)" >&2; exit 1; \
	fi
	$(CLUSTER) up -d $(REPLICAS) lb
	@for replica in $(REPLICAS); do scripts/docker/wait-healthy.sh "$$($(COMPOSE) ps -q $$replica)"; done
	@echo "Three replicas are up behind http://localhost:$(APP_PORT)"

cluster-down: ## stop and remove the cluster's containers (the database's volume stays)
	$(CLUSTER) stop lb $(REPLICAS) postgres
	$(CLUSTER) rm -f lb $(REPLICAS) postgres

cluster-state: ## /state through the load balancer: which replica answered, how many are live
	@$(CLUSTER) exec -T app-1 node dist/src/cli/main.js state --url http://lb:8080 $(CLI_FLAGS)

cluster-logs: ## follow the cluster's logs
	$(CLUSTER) logs -f lb $(REPLICAS) postgres

cluster-migrate: postgres-up ## copy the file store's volume into PostgreSQL (stops `app`; safe to re-run)
	$(COMPOSE) stop app
	$(COMPOSE) up volume-owner
	$(COMPOSE) --profile cluster-migrate run --rm --no-deps -T migrate

cluster-inspect: postgres-up ## the inspector against the database (works with every replica stopped)
	@$(COMPOSE) --profile cluster-inspect run --rm --no-deps -T cluster-inspector
