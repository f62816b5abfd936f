#!/usr/bin/env bash
# Cleans up after a test node (tests/it/support/node.rs) once its test binary has exited, however it
# ended (success, panic, SIGKILL): the harness starts this detached, with stdin a pipe that only
# the test process holds, so end-of-file on stdin means "the test process is gone".
#
# By then the kernel is killing the node's PID namespace (its init died with the test binary),
# which takes the node's mounts, network namespace, veth pair and iptables rules with it. What the
# kernel leaves is removed here: the node's cgroups (they outlive their processes) and the bulky
# state (image layers, container filesystems, pod volumes). The logs stay for a post-mortem until
# the next test run removes the folder.
#
# Usage: janitor.sh NODE_DIR CGROUP_NAME PIDNS_INODE MNTNS_INODE NETNS_INODE HOST_LINK
set -u
node_dir=$1 cgroup=$2 pidns=$3 mntns=$4 netns=$5 host_link=$6

cat >/dev/null

# Wait until no process is left in the node's namespaces (at most 60 s).
in_node() {
  local p
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/ns/pid" 2>/dev/null) $(readlink "$p/ns/mnt" 2>/dev/null) $(readlink "$p/ns/net" 2>/dev/null)" in
      *"[$pidns]"* | *"[$mntns]"* | *"[$netns]"*) return 0 ;;
    esac
  done
  return 1
}
for _ in $(seq 600); do in_node || break; sleep 0.1; done

# Cgroups: every hierarchy (cgroup v1 controllers, the unified one), deepest first.
for root in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -d "$root/$cgroup" ] || continue
  for _ in $(seq 100); do
    find "$root/$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ -d "$root/$cgroup" ] || break
    sleep 0.1
  done
done

# The host end of the veth goes with the namespace; remove it in case anything held that alive.
ip link delete "$host_link" >/dev/null 2>&1 || true

# Bulky state; only when nothing is mounted beneath it any more (never delete through a mount).
if ! grep -q " ${node_dir}/" /proc/self/mountinfo 2>/dev/null; then
  rm -rf "$node_dir/containerd" "$node_dir/kubelet" "$node_dir/var-lib-cni" "$node_dir/var-lib-kubelet" \
    "$node_dir/volumes"
fi
