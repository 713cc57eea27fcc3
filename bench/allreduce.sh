#!/bin/sh
# Times the all-reduce of ResNet-18's gradients (bench/bench_allreduce.c) on
# 2 ranks of this machine, the ways two processes can talk here
# (docs/SCALE.md):
#
#   shm       Open MPI's default between ranks of one node: shared memory
#   loopback  TCP over the loopback interface (--mca btl tcp,self)
#   veth      TCP between two network namespaces joined by a veth pair,
#             one rank in each, started by mpirun through an rsh agent as on
#             two machines: the traffic crosses a network interface (root,
#             iproute2); the bytes the interface carried are printed
#   mpich     MPICH's default on one node, when MPICH_BUILD names a build
#             made with -DMPI_C_COMPILER=mpicc.mpich
#
#   usage: bench/allreduce.sh BUILD [reps] [cases...]     (default: 15 reps, every case)
#
# Prints `uptime` before and after (the machine may be shared) and one JSON
# line per case. The namespaces, their veth pair (link-local addresses
# 169.254.218.1 and .2, reachable from nowhere else) and the agent are
# removed on exit.
set -eu
build=${1:?usage: bench/allreduce.sh BUILD [reps] [cases...]}
reps=${2:-15}
shift $(($# < 2 ? $# : 2))
cases=${*:-shm loopback veth mpich}
bench=$(cd "$build" && pwd)/bench/bench_allreduce
[ -x "$bench" ] || { echo "no $bench: build it first (cmake --build $build)"; exit 1; }
root_flag=""
[ "$(id -u)" -eq 0 ] && root_flag=--allow-run-as-root
ompi="mpirun $root_flag -np 2"
tmp=$(mktemp -d)
ns_a=fa_scale_a ns_b=fa_scale_b
cleanup() {
  ip netns del $ns_a 2>/dev/null || true
  ip netns del $ns_b 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# veth_bytes: bytes sent by rank 0's side of the pair
veth_bytes() { ip netns exec $ns_a cat /sys/class/net/fa_scale_v0/statistics/tx_bytes; }

veth_setup() {
  ip netns add $ns_a
  ip netns add $ns_b
  ip link add fa_scale_v0 type veth peer name fa_scale_v1
  ip link set fa_scale_v0 netns $ns_a
  ip link set fa_scale_v1 netns $ns_b
  ip -n $ns_a addr add 169.254.218.1/30 dev fa_scale_v0
  ip -n $ns_b addr add 169.254.218.2/30 dev fa_scale_v1
  for ns in $ns_a $ns_b; do ip -n $ns link set lo up; done
  ip -n $ns_a link set fa_scale_v0 up
  ip -n $ns_b link set fa_scale_v1 up
  # mpirun starts the remote rank's daemon as ssh would: AGENT HOST COMMAND
  cat > "$tmp/agent" <<EOF
#!/bin/sh
host=\$1
shift
case \$host in
169.254.218.1) exec ip netns exec $ns_a sh -c "\$*" ;;
169.254.218.2) exec ip netns exec $ns_b sh -c "\$*" ;;
*) echo "agent: no namespace for host \$host" >&2; exit 1 ;;
esac
EOF
  chmod +x "$tmp/agent"
  printf '169.254.218.1 slots=1\n169.254.218.2 slots=1\n' > "$tmp/hosts"
}

echo "uptime before: $(uptime)"
for c in $cases; do
  case $c in
  shm) printf '{"case": "shm", "result": %s}\n' "$($ompi "$bench" 11171146 "$reps")" ;;
  loopback)
    printf '{"case": "loopback", "result": %s}\n' \
      "$($ompi --mca btl tcp,self --mca btl_tcp_if_include lo "$bench" 11171146 "$reps")" ;;
  veth)
    if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
      echo '{"case": "veth", "skipped": "needs root and iproute2"}'
      continue
    fi
    veth_setup
    before=$(veth_bytes)
    out=$(ip netns exec $ns_a $ompi --hostfile "$tmp/hosts" --mca plm_rsh_agent "$tmp/agent" \
      --mca btl tcp,self --mca btl_tcp_if_include 169.254.218.0/30 --mca oob_tcp_if_include 169.254.218.0/30 \
      "$bench" 11171146 "$reps")
    printf '{"case": "veth", "veth_tx_bytes": %s, "result": %s}\n' "$(($(veth_bytes) - before))" "$out" ;;
  mpich)
    if [ -z "${MPICH_BUILD:-}" ]; then
      echo '{"case": "mpich", "skipped": "MPICH_BUILD not set"}'
      continue
    fi
    printf '{"case": "mpich", "result": %s}\n' \
      "$(mpiexec.mpich -n 2 "$(cd "$MPICH_BUILD" && pwd)/bench/bench_allreduce" 11171146 "$reps")" ;;
  *) echo "unknown case $c (shm, loopback, veth, mpich)"; exit 2 ;;
  esac
done
echo "uptime after: $(uptime)"
