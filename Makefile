# cronq — build, test and run targets. `make help` lists them.
SHELL := /bin/bash
SWIFT ?= swift
RUN_DIR ?= $(CURDIR)/run
export CRONQ_RUN_DIR := $(RUN_DIR)
export CRONQ_RMQ_PORT ?= 5682
export CRONQ_RMQ_MGMT_PORT ?= 15682
export CRONQ_RMQ_DIST_PORT ?= 25682
export CRONQ_RMQ_NODE ?= cronq-test@localhost
DEB_PACKAGES := librabbitmq-dev libcurl4-openssl-dev libssl-dev rabbitmq-server tzdata ca-certificates openssl python3 curl python3-django python3-yaml chromium fonts-dejavu-core
# Debian's interpreter, the one python3-django is installed for (a pyenv python3 on PATH would not see it).
DJANGO_PYTHON ?= /usr/bin/python3
SWIFT_BUILD_FLAGS ?= -Xswiftc -warnings-as-errors
SOAK_SECONDS ?= 600
TEST_SOAK_SECONDS ?= 60

.PHONY: bench-deps lint cluster-up cluster-down test-cluster soak-cluster help deps build release test test-unit test-django chaos soak rabbitmq-up rabbitmq-down clean bench definitions demo demo-down docker-check fuzz

help:
	@echo "make build        debug build of cronq, cronq-ticker, cronq-worker"
	@echo "make release      release build"
	@echo "make test         install missing packages, start a private RabbitMQ, run swift test, stop it"
	@echo "                  (then the chaos tests and a $(TEST_SOAK_SECONDS) s soak, on brokers of their own)"
	@echo "make test-unit    the tests that need no broker"
	@echo "make lint         swift-format with the repository's .swift-format (warnings are errors); make test runs it"
	@echo "make chaos        fault tests with the accounting check (broker restarts and outage, kills, backend down)"
	@echo "make soak         200 jobs for SOAK_SECONDS (600) with faults in the middle; accounting and leak check"
	@echo "make rabbitmq-up  start the private RabbitMQ node (127.0.0.1:$(CRONQ_RMQ_PORT))"
	@echo "make cluster-up   start a private 3-node RabbitMQ cluster (127.0.0.1:5721-5723); make cluster-down stops it"
	@echo "make test-cluster node-loss tests on a private 3-node cluster (make test runs them, with a 60 s cluster soak)"
	@echo "make soak-cluster a node killed and restarted every ~20 s for CLUSTER_SOAK_SECONDS (600)"
	@echo "make rabbitmq-down stop it"
	@echo "make demo         release build, private broker, demo backend, ticker, 2 workers, live events"
	@echo "make demo-down    clean up after a demo"
	@echo "make docker-check the Dockerfile's build step on the host, and the compose file check"
	@echo "make fuzz         a million random inputs each for the cron parser, the config loader and the job-message reader"
	@echo "make bench        benchmarks (release mode; installs nginx-light for the worker bench; BENCH=cron|worker|nginx|guard|ticker|cluster for one part)"
	@echo "make definitions  regenerate topology/definitions.json from cronq.example.toml"
	@echo "make clean        remove build output and the run folder"

# Installs what is missing, as root; otherwise says what to install.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run 'make deps' as root)" >&2; exit 1; fi; \
	fi

build: deps
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

release: deps
	$(SWIFT) build -c release

# Recipes that need the broker start it unless it already runs, and stop it afterwards only if they
# started it (a developer's running node is left as it was).
BROKER_UP = started=; scripts/rabbitmq.sh status >/dev/null 2>&1 || started=1; scripts/rabbitmq.sh up || exit 1
BROKER_DOWN = if [ -n "$$started" ]; then scripts/rabbitmq.sh down; else echo "rabbitmq: left running, as it was before"; fi

rabbitmq-up: deps
	@scripts/rabbitmq.sh up

rabbitmq-down:
	@scripts/rabbitmq.sh down

# swift-format ships with the toolchain; `swift format format -i -r Sources Tests Package.swift` fixes most of it.
lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

# The node (if this started it) is stopped whatever the tests do; the test exit code is kept.
test: deps lint
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	@$(BROKER_UP); set +e; \
	CRONQ_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" \
	CRONQ_TEST_RABBITMQ_NODE="$(CRONQ_RMQ_NODE)" \
	CRONQ_TEST_MANAGEMENT_URL="http://guest:guest@127.0.0.1:$(CRONQ_RMQ_MGMT_PORT)" \
	$(SWIFT) test --skip-build; rc=$$?; \
	if [ $$rc -eq 0 ]; then \
	  CRONQ_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" CRONQ_TEST_RABBITMQ_NODE="$(CRONQ_RMQ_NODE)" \
	  CRONQ_CHAOS=1 CRONQ_SOAK_SECONDS=$(TEST_SOAK_SECONDS) $(SWIFT) test --skip-build --filter 'ChaosTests|SoakTests'; rc=$$?; \
	fi; \
	if [ $$rc -eq 0 ]; then \
	  CRONQ_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" CRONQ_TEST_RABBITMQ_NODE="$(CRONQ_RMQ_NODE)" \
	  CRONQ_CLUSTER=1 $(SWIFT) test --skip-build --filter 'ClusterTests'; rc=$$?; \
	fi; \
	$(BROKER_DOWN); \
	$(MAKE) --no-print-directory test-django || rc=1; exit $$rc

# Fault tests with the accounting check (a private broker of their own, restarted and stopped), run
# after the main suite so their load does not skew its timing tests. Each prints its figures.
chaos: deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	@$(BROKER_UP); set +e; CRONQ_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" CRONQ_TEST_RABBITMQ_NODE="$(CRONQ_RMQ_NODE)" \
	CRONQ_CHAOS=1 $(SWIFT) test --skip-build --filter ChaosTests; rc=$$?; $(BROKER_DOWN); exit $$rc

# A private three-node cluster on loopback (scripts/cluster.sh): own ports and data dirs, joined with
# rabbitmqctl join_cluster. The cluster tests start and stop one of their own.
cluster-up: deps
	@scripts/cluster.sh up

cluster-down:
	@scripts/cluster.sh down

# Node-loss tests on a private cluster (the tests start it and stop it), with the accounting check.
test-cluster: deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	@$(BROKER_UP); set +e; CRONQ_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" CRONQ_TEST_RABBITMQ_NODE="$(CRONQ_RMQ_NODE)" \
	CRONQ_CLUSTER=1 $(SWIFT) test --skip-build --filter ClusterTests; rc=$$?; $(BROKER_DOWN); exit $$rc

# The cluster soak: a node killed and restarted every ~20 s in turn (CLUSTER_SOAK_SECONDS; make test runs 60).
CLUSTER_SOAK_SECONDS ?= 600
soak-cluster: deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	@$(BROKER_UP); set +e; CRONQ_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" CRONQ_TEST_RABBITMQ_NODE="$(CRONQ_RMQ_NODE)" \
	CRONQ_CLUSTER=1 CRONQ_CLUSTER_SOAK_SECONDS=$(CLUSTER_SOAK_SECONDS) $(SWIFT) test --skip-build --filter 'ClusterTests/soak'; rc=$$?; $(BROKER_DOWN); exit $$rc

# The soak: 200 jobs, three workers, faults in the middle, accounting and leak checks at the end.
# `make soak SOAK_SECONDS=120` for a shorter one (`make test` runs $(TEST_SOAK_SECONDS) s).
soak: deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	@$(BROKER_UP); set +e; CRONQ_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" CRONQ_TEST_RABBITMQ_NODE="$(CRONQ_RMQ_NODE)" \
	CRONQ_SOAK_SECONDS=$(SOAK_SECONDS) $(SWIFT) test --skip-build --filter SoakTests; rc=$$?; $(BROKER_DOWN); exit $$rc

# The Django example's own tests, with Debian's python3-django (installed by `make deps`): never skipped.
test-django: deps
	@cd examples/django && $(DJANGO_PYTHON) -m django test --settings=settings

test-unit: deps
	$(SWIFT) test --filter 'CronqCoreTests|CronqAMQPTests|CronqHTTPTests|CronqCryptoTests'

# Release build; starts the private broker for the worker numbers (and stops it afterwards if it started it).
# The worker bench's real web server; not needed by the tests.
bench-deps: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES=nginx-light

bench: bench-deps
	$(SWIFT) build -c release
	@$(BROKER_UP); set +e; cluster=; \
	if [ -z "$(BENCH)" ] || [ "$(BENCH)" = cluster ]; then scripts/cluster.sh up >/dev/null && cluster=1; fi; \
	CRONQ_BENCH_BROKER_PID=$$(scripts/rabbitmq.sh pid) CRONQ_BENCH_AMQP_URL="amqp://guest:guest@127.0.0.1:$(CRONQ_RMQ_PORT)/%2F" \
	CRONQ_BENCH_CLUSTER_URLS=$${cluster:+$$(scripts/cluster.sh urls)} CRONQ_BENCH_CLUSTER_PIDS=$${cluster:+$$(scripts/cluster.sh pids)} \
	.build/release/cronq-bench $(BENCH); rc=$$?; \
	if [ -n "$$cluster" ]; then scripts/cluster.sh down >/dev/null; fi; \
	$(BROKER_DOWN); exit $$rc

# Clone to jobs flowing: broker, demo backend, ticker, two workers and live events. Ctrl-C stops it.
demo: release
	@scripts/demo.sh

# Stops whatever a crashed demo left behind.
demo-down:
	-@for f in run/demo/*.pid; do [ -f "$$f" ] && kill -TERM $$(cat "$$f") 2>/dev/null; rm -f "$$f"; done; true
	@scripts/rabbitmq.sh down

# What can be checked of docker/ without an engine: the Dockerfile's build step on the host, the compose file.
docker-check: deps
	$(SWIFT) build -c release --static-swift-stdlib
	/usr/bin/python3 docker/check_compose.py

# A million seeded random inputs each for the cron parser and the config loader (FUZZ_COUNT, FUZZ_SEED).
FUZZ_COUNT ?= 1000000
FUZZ_SEED ?= 1
fuzz: deps
	$(SWIFT) build -c release --product cronq-fuzz
	.build/release/cronq-fuzz all $(FUZZ_COUNT) $(FUZZ_SEED)

# Regenerates topology/definitions.json from the example config (a test fails when they drift).
definitions: build
	.build/debug/cronq topology export --config cronq.example.toml > topology/definitions.json

clean:
	-@scripts/rabbitmq.sh down >/dev/null 2>&1
	-@scripts/cluster.sh down >/dev/null 2>&1
	rm -rf .build $(RUN_DIR)
