# monday-operator developer entry points. `make test` is what CI runs; `make demo` is the tour.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all tools crds fmt lint test demo bench bench-controller clean-tools

all: test

## tools: build kube-apiserver, etcd, kubectl, the node's kubelet, kube-proxy, kube-controller-manager
## and kube-scheduler, helm (and baton where the module proxy serves it), cached per pinned version
## under ~/.cache/monday-operator/tools.
tools:
	@bash hack/build-tools.sh all

## crds: regenerate crds/ from the Rust types (and the kustomize copy in config/crd).
crds:
	$(CARGO) run -q --bin monday-operator -- crd > crds/crds.yaml
	cp crds/crds.yaml config/crd/crds.yaml  # kustomize reads no file outside its folder; the chart symlinks

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## test: everything CI checks, against a real kube-apiserver + etcd, a real node (tests/node/, node_cleanup, node_demo:
## the chart as pods, the image, the demo) and the Monday emulator.
test: tools lint
	$(CARGO) test --workspace

## demo: the main job on an embedded default (see README).
demo: tools
	@bash hack/demo.sh

## bench: full syncs of tenants M and L against the emulator at 100 ms latency (prints figures).
bench:
	$(CARGO) bench --bench sync

## bench-controller: 1,000 connectors (tenant S, one emulator) on the real apiserver (prints figures).
bench-controller: tools
	$(CARGO) test --release --test controller_bench -- --ignored --nocapture

clean-tools:
	rm -rf target/tools
