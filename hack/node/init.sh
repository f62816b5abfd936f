#!/usr/bin/env bash
# PID 1 of the test node (tests/it/support/node.rs), run by `unshare --mount --net --pid --fork
# --mount-proc`: it owns the node's private mount, network and PID namespaces, so everything
# started here (containerd, its shims, the pods, the kubelet, kube-proxy) and every mount, network
# interface and iptables rule they make dies with it. The harness kills it when the test binary
# exits; hack/node/janitor.sh then removes the node's cgroups and bulky files.
#
# Environment: NODE_DIR (per-run folder), NODE_IP, HOST_IP, LINK_PREFIX, NODE_LOGS.
# Any failure prints ONE line "node: <what is missing>" on stderr and exits.
set -euo pipefail

fail() { echo "node: $*" >&2; exit 1; }
: "${NODE_DIR:?}" "${NODE_IP:?}" "${HOST_IP:?}" "${LINK_PREFIX:?}" "${NODE_LOGS:?}"

# --- private mounts ------------------------------------------------------------------------------
# /run holds containerd's state and shim sockets, the pods' network namespace files and the xtables
# lock; /var/log the pod logs (the kubelet writes /var/log/containers whatever its config says);
# /var/lib/cni the CNI result cache (libcni's default, containerd 1.6 cannot move it);
# /var/lib/kubelet the kubelet's device-plugin socket (a fixed path, whatever --root-dir says).
# Each is this node's own, so parallel nodes never collide and nothing is left behind on the host
# (but the empty mount points /var/lib/cni and /var/lib/kubelet, created once).
mount -n -t tmpfs -o mode=0755 tmpfs /run || fail "cannot mount a tmpfs on /run in a private mount namespace"
mkdir -p "$NODE_DIR/var-log"
mount -n --bind "$NODE_DIR/var-log" /var/log || fail "cannot bind-mount over /var/log"
for d in cni kubelet; do
  mkdir -p "$NODE_DIR/var-lib-$d" "/var/lib/$d"
  mount -n --bind "$NODE_DIR/var-lib-$d" "/var/lib/$d" || fail "cannot bind-mount over /var/lib/$d"
done

# The kubelet sets six kernel-wide tunables at start (vm.overcommit_memory=1, vm.panic_on_oom=0,
# kernel.panic=10, kernel.panic_on_oops=1, kernel.keys.root_max*), which would outlive the test and
# turn any oops on this shared machine into a reboot. Shadow them with plain files in this mount
# namespace: the kubelet reads and writes those, the kernel keeps its settings.
mkdir -p "$NODE_DIR/sysctl"
for f in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
  shadow="$NODE_DIR/sysctl/${f//\//.}"
  cat "/proc/sys/$f" >"$shadow"
  mount -n --bind "$shadow" "/proc/sys/$f" || fail "cannot shadow /proc/sys/$f"
done

# --- network -------------------------------------------------------------------------------------
# The harness moves one end of a veth pair in as eth0; the other end on the host has HOST_IP,
# where the apiserver and the emulator listen. Pod traffic leaves masqueraded as NODE_IP.
ip link set lo up
for _ in $(seq 100); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.05; done
ip link show eth0 >/dev/null 2>&1 || fail "the veth end eth0 never arrived in the node's network namespace"
ip addr add "$NODE_IP/$LINK_PREFIX" dev eth0
ip link set eth0 up
ip route add default via "$HOST_IP"
echo 1 >/proc/sys/net/ipv4/ip_forward
# Pod -> Service -> pod on the same bridge needs bridged traffic to pass iptables (kube-proxy).
echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null \
  || fail "net.bridge.bridge-nf-call-iptables is missing (kernel without br_netfilter)"
touch "$NODE_DIR/network-ready"

# --- wait for the harness to write the configuration (it needs the apiserver, which needs HOST_IP)
for _ in $(seq 1200); do [ -e "$NODE_DIR/go" ] && break; sleep 0.1; done
[ -e "$NODE_DIR/go" ] || fail "the harness never wrote the node configuration"

pids=()
names=()
start() {
  local name=$1; shift
  "$@" >"$NODE_LOGS/$name.log" 2>&1 &
  pids+=($!); names+=("$name")
}

start containerd containerd --config "$NODE_DIR/containerd.toml"
for _ in $(seq 200); do [ -S "$NODE_DIR/containerd.sock" ] && break; sleep 0.05; done
[ -S "$NODE_DIR/containerd.sock" ] || fail "containerd did not open its socket (see $NODE_LOGS/containerd.log)"
touch "$NODE_DIR/containerd-ready"

start kubelet "$NODE_BIN/kubelet" --config="$NODE_DIR/kubelet.yaml" --root-dir="$NODE_DIR/kubelet" \
  --kubeconfig="$NODE_DIR/kubelet.kubeconfig" --hostname-override="$NODE_NAME" \
  --node-ip="$NODE_IP" --v=2
start kube-proxy "$NODE_BIN/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml" --v=1

# PID 1 reaps every orphan (containerd's shims are re-parented here). `wait -n` returns when one of
# the node's processes ends; the node is then broken, so say which and stop (the namespace dies).
while true; do
  wait -n || true
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      fail "${names[$i]} exited (see $NODE_LOGS/${names[$i]}.log)"
    fi
  done
done
