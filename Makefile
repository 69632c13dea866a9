# redis-gitops. The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
SANDBOX_DIR ?= $(CURDIR)/.sandbox
# What the sandbox and the tests need from Debian.
DEB_PACKAGES := redis-server redis-tools etcd-server iproute2 util-linux procps git prometheus prometheus-redis-exporter
# The control plane the sandbox runs; kubectl is apart, for the tests and for
# people: the demo does not need it.
K8S_BINS := $(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/kube-scheduler
K8S_CMDS := $(patsubst $(BIN)/%,k8s.io/kubernetes/cmd/%,$(K8S_BINS))
# Gitea, a real Git server for the daemon's end-to-end tests (internal/giteatest).
GITEA_BINS := $(BIN)/gitea $(BIN)/gitea.root

# Builds run with GOGC=400: the compiler and linker collect garbage a quarter
# as often, and a cold build takes about a tenth less time (measured here, 2
# cores). The largest process of a cold build peaks at 3.1 GB with it, 2.9
# GB without. Only the build: tests and the programs they start keep Go's
# default.
GO_BUILD := GOGC=400 $(GO) build

.PHONY: all deps build binaries sandbox redis-gitops demo-tool kubectl test test-go test-fuzz test-sandbox vet demo demo-down bench clean

all: build

## deps: install missing Debian packages (as root).
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then echo "missing Debian packages: $$missing; run as root or install them" >&2; exit 1; fi; \
	  echo "installing:" $$missing; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

## build: the product, the sandbox, and Kubernetes and Gitea from their Go modules (cached by the Go build cache).
build:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) binaries kubectl

# Up to three jobs at once, in an order that lets the Go build cache serve the
# later builds: the product's build goes first and compiles client-go,
# apimachinery and the rest of what the three modules share (at one version
# each: hack/modsync); then the sandbox-and-Kubernetes line and the Gitea line
# run side by side, each using the cores the other leaves idle while it
# downloads modules or links. Three lines of Go builds at once from a cold
# cache would compile the shared packages three times.
BUILD_JOBS ?= 3
binaries: redis-gitops demo-tool sandbox $(K8S_BINS) $(GITEA_BINS)
demo-tool sandbox $(GITEA_BINS): | redis-gitops
$(K8S_BINS): | sandbox
$(BIN)/kubectl: | $(K8S_BINS)

redis-gitops:
	$(GO_BUILD) -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o $(BIN)/redis-gitops ./cmd/redis-gitops

# make demo's program (hack/demo): a development tool, not the product.
demo-tool:
	$(GO_BUILD) -o $(BIN)/demo ./hack/demo

sandbox:
	cd sandbox && $(GO_BUILD) -o $(BIN)/sandbox ./cmd/sandbox

# The Kubernetes version is pinned by sandbox/go.mod; rebuilt only when it
# changes. Without symbol tables and DWARF (-s -w, as their releases are
# built): smaller, and faster to link on a cold build.
$(K8S_BINS) &: sandbox/go.mod sandbox/go.sum
	cd sandbox && $(GO_BUILD) -ldflags '-s -w' -o $(BIN)/ $(K8S_CMDS)
	@touch $(K8S_BINS)

kubectl: $(BIN)/kubectl
$(BIN)/kubectl: sandbox/go.mod sandbox/go.sum
	cd sandbox && $(GO_BUILD) -ldflags '-s -w' -o $(BIN)/ k8s.io/kubernetes/cmd/kubectl
	@touch $@

# The Gitea version is pinned by sandbox/gitea/go.mod. Gitea reads its
# templates, locales and options at run time from the module's source, whose
# directory goes into bin/gitea.root (giteatest sets STATIC_ROOT_PATH to it).
# Its SQLite (cgo, one 9 MB C file) is compiled at -O1 without debug info
# rather than cgo's default -O2 -g: 15 s less of a cold build here, and a
# test Git server's database does not notice.
$(GITEA_BINS) &: sandbox/gitea/go.mod sandbox/gitea/go.sum
	cd sandbox/gitea && CGO_CFLAGS='-O1' $(GO_BUILD) -tags 'sqlite sqlite_unlock_notify' \
	  -ldflags "-s -w -X main.Version=$$($(GO) list -m -f '{{.Version}}' code.gitea.io/gitea | sed 's/^v//')" \
	  -o $(BIN)/gitea code.gitea.io/gitea
	cd sandbox/gitea && $(GO) list -m -f '{{.Dir}}' code.gitea.io/gitea > $(BIN)/gitea.root
	@touch $(GITEA_BINS)

vet:
	$(GO) vet ./...
	cd sandbox && $(GO) vet ./...

## test: everything, unit and end-to-end, on a fresh machine of this kind.
# Debian's packages install while the Go builds run.
test:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) deps binaries kubectl
	@$(MAKE) --no-print-directory vet test-go test-fuzz test-sandbox

# The product's tests; packages with end-to-end tests start their own sandbox
# through bin/sandbox. reconcile's end-to-end tests, one after another,
# take about 25 minutes on a 2-core machine (the daemon's, side by side,
# 15): the timeout leaves room for a slower day.
test-go:
	SANDBOX_BIN=$(BIN) $(GO) test -timeout 40m ./...

# A bounded fuzz run of the spec parser (the seed corpus runs in test-go too).
test-fuzz:
	$(GO) test ./spec -run='^$$' -fuzz=FuzzParse -fuzztime=20s

# End-to-end tests start one sandbox per test binary: run packages one at a time.
test-sandbox:
	cd sandbox && SANDBOX_BIN=$(BIN) $(GO) test -p 1 -timeout 25m ./...

## demo: a 3-node sandbox, Gitea with a repo seeded from examples/, the daemon watching it by webhook; follows the cluster forming.
# Everything but kubectl, which the demo does not need (make kubectl).
demo:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) deps binaries
	$(BIN)/demo up --dir $(SANDBOX_DIR) --bin $(BIN)

## demo-down: stops the demo's daemon, Gitea and sandbox; leaves nothing behind.
demo-down:
	$(BIN)/demo down --dir $(SANDBOX_DIR) --bin $(BIN)

clean: demo-down
	rm -rf $(BIN)

## bench: this reconciler against redis-cli on identical fresh pods, in one run (ratios, not absolute times); then the daemon's sizing with 1 to 100 clusters in one repo (README, Sizing).
# BENCH_FLEET picks the fleet sizes, e.g. make bench BENCH_FLEET=1,10.
BENCH_FLEET ?= 1,10,50,100
# BENCH_SIZES picks the Redis nodes of one large cluster (masters with one
# replica each), e.g. make bench BENCH_SIZES=6,30,90,150.
BENCH_SIZES ?= 6,30,90
bench: deps build
	SANDBOX_BIN=$(BIN) $(GO) test ./reconcile -run '^$$' -bench BenchmarkBootstrap -benchtime 3x -timeout 20m
	SANDBOX_BIN=$(BIN) REDIS_GITOPS_BENCH_SIZES=$(BENCH_SIZES) $(GO) test ./reconcile -run '^$$' -bench BenchmarkLargeCluster -benchtime 1x -timeout 90m
	SANDBOX_BIN=$(BIN) $(GO) test ./daemon -run '^$$' -bench BenchmarkGitOps -benchtime 1x -timeout 20m
	SANDBOX_BIN=$(BIN) REDIS_GITOPS_BENCH_FLEET=$(BENCH_FLEET) $(GO) test ./daemon -run '^$$' -bench BenchmarkFleet -benchtime 1x -timeout 90m
	$(GO) test ./reconcile/migrate -run '^$$' -bench BenchmarkScaleOutMigration -benchtime 1x -timeout 30m
