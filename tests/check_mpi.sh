#!/bin/sh
# dist/comm.h across processes: starts tests/mpi_comm_check.c under the MPI
# launcher and checks what comes out (docs/SCALE.md).
#
#   tests/check_mpi.sh CASE PROGRAM LAUNCHER
#
#   sums         2 ranks: every sum equals the serial sum in rank order, bit for bit
#   sums3        3 ranks: the same, where the order of additions shows in the bits
#   repeat       two runs of 3 ranks print the same digest of their sums
#   abort        rank 1 stops both ranks: the launcher ends within the time
#                limit with the status given, the message names rank 1 and
#                the cause, and no rank is left running
#   kill         rank 1 is killed (SIGKILL): the other rank is stopped too
#   fingerprint  ranks given the same version, flags and data start; ranks
#                given different ones refuse, with a message naming the
#                ranks and the first difference
#   launcher     a process that srun says is one of 2 but that MPI sees
#                alone (srun without --mpi=pmix) refuses to run
#   threads      1 rank gets every CPU this process may use (nproc); 2
#                unbound ranks on this node split them (at least 1 each),
#                and know they are ranks 0 and 1 of 2 here
#
# Exit 0 passed, 1 failed, 77 skipped (no launcher, or built without MPI).
set -u
case=$1 program=$2 launcher=${3:-}
. "$(dirname "$0")/mpi_launcher.sh"

# run NAME ARGS...: the launcher with ARGS, a time limit, out/err/status in $tmp/NAME.*
run() {
  name=$1
  shift
  start=$(date +%s)
  timeout -k 5 120 "$launcher" $flags "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
  echo $? > "$tmp/$name.status"
  echo $(($(date +%s) - start)) > "$tmp/$name.seconds"
}
status() { cat "$tmp/$1.status"; }
show() { echo "--- $1: status $(status "$1"), $(cat "$tmp/$1.seconds") s"; cat "$tmp/$1.out" "$tmp/$1.err"; }

# no rank of run NAME is still alive (each printed "rank R of N pid P")
none_left() {
  for pid in $(sed -n 's/^rank [0-9]* of [0-9]* pid \([0-9]*\) .*$/\1/p' "$tmp/$1.out"); do
    for _ in 1 2 3 4 5; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      fail "rank process $pid of '$1' still runs"
      kill -9 "$pid"
    fi
  done
  [ "$(grep -c '^rank .* pid' "$tmp/$1.out")" -ge 1 ] || fail "no rank of '$1' started"
}

case $case in
sums | sums3)
  n=2
  [ "$case" = sums3 ] && n=3
  run sums -n $n "$program" sums
  show sums
  [ "$(status sums)" = 0 ] || fail "the sums on $n ranks failed"
  grep -q "^digest [0-9a-f]* of the sums on $n ranks" "$tmp/sums.out" || fail "no digest"
  ;;
repeat)
  run first -n 3 "$program" sums
  run second -n 3 "$program" sums
  show first
  show second
  a=$(grep '^digest' "$tmp/first.out") b=$(grep '^digest' "$tmp/second.out")
  [ -n "$a" ] && [ "$a" = "$b" ] || fail "two runs differ: '$a' and '$b'"
  ;;
abort)
  run abort -n 2 "$program" abort 1 4
  show abort
  [ "$(status abort)" = 4 ] || fail "status $(status abort), not the 4 rank 1 gave (124: the time limit)"
  grep -q "rank 1 of 2 (host .*) stops every rank: made-up failure: NaN in the loss at iteration 7" "$tmp/abort.err" ||
    fail "no message naming rank 1 and the cause"
  grep -q "passed a barrier" "$tmp/abort.err" && fail "a rank went on"
  none_left abort
  ;;
kill)
  run kill -n 2 "$program" kill 1
  show kill
  # the launcher's own status for a killed rank (Open MPI's mpirun: 137, 128 + 9), not the time limit's
  s=$(status kill)
  { [ "$s" != 0 ] && [ "$s" != 124 ] && [ "$(cat "$tmp/kill.seconds")" -lt 100 ]; } ||
    fail "status $s after $(cat "$tmp/kill.seconds") s: the launcher did not end on the kill"
  grep -q "passed a barrier" "$tmp/kill.err" && fail "a rank went on"
  none_left kill
  ;;
fingerprint)
  run same -n 2 "$program" fingerprint 0.2.0 "--eps=8 --lr_max=0.2" cifar10
  show same
  [ "$(status same)" = 0 ] && [ "$(grep -c 'every rank runs the same job' "$tmp/same.out")" = 2 ] ||
    fail "ranks with the same job did not start"
  run flags -n 1 "$program" fingerprint 0.2.0 "--eps=8 --lr_max=0.2" cifar10 : \
    -n 1 "$program" fingerprint 0.2.0 "--eps=16 --lr_max=0.2" cifar10
  show flags
  [ "$(status flags)" = 1 ] || fail "different flags: status $(status flags), not 1"
  [ "$(grep -c 'refused: the ranks do not run the same job: 1 of 2 ranks (1) differ from rank 0 in flags; flags: rank 0 has "--eps=8", rank 1 has "--eps=16"' "$tmp/flags.err")" = 2 ] ||
    fail "both ranks should refuse, naming rank 1 and --eps"
  run data -n 2 "$program" fingerprint 0.2.0 "--eps=8" cifar10 : -n 1 "$program" fingerprint 0.3.0 "--eps=8" svhn
  show data
  [ "$(status data)" = 1 ] || fail "different version and data: status $(status data), not 1"
  grep -q '1 of 3 ranks (2) differ from rank 0 in version, data; version: rank 0 has "0.2.0", rank 2 has "0.3.0"' \
    "$tmp/data.err" || fail "no message naming rank 2, the version and the data"
  ;;
launcher)
  # no launcher: MPI starts alone (a singleton), as under an srun that does not speak to it
  start=$(date +%s)
  SLURM_STEP_NUM_TASKS=2 timeout -k 5 120 "$program" init > "$tmp/alone.out" 2> "$tmp/alone.err"
  echo $? > "$tmp/alone.status"
  echo $(($(date +%s) - start)) > "$tmp/alone.seconds"
  show alone
  [ "$(status alone)" = 1 ] || fail "status $(status alone), not 1"
  grep -q "Slurm's srun started 2 processes (SLURM_STEP_NUM_TASKS), but MPI (.*) sees 1" "$tmp/alone.err" ||
    fail "no message saying MPI sees 1 of srun's 2 processes"
  grep -q 'srun --mpi=pmix' "$tmp/alone.err" || fail "the message does not say what to do"
  ;;
threads)
  # Open MPI binds 2 ranks to a core each unless told not to; MPICH does not bind
  unbind=""
  case $flags in --oversubscribe*) unbind="--bind-to none" ;; esac
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) # nproc alone obeys OMP_NUM_THREADS
  half=$((cpus / 2 > 0 ? cpus / 2 : 1))
  run one -n 1 $unbind "$program" init
  run two -n 2 $unbind "$program" init
  show one
  show two
  grep -q "^rank 0 of 1 pid [0-9]* threads $cpus local 0 of 1$" "$tmp/one.out" || fail "1 rank: not $cpus threads"
  for r in 0 1; do
    grep -q "^rank $r of 2 pid [0-9]* threads $half local $r of 2$" "$tmp/two.out" ||
      fail "rank $r of 2 unbound ranks: not $half threads, or not local rank $r of 2"
  done
  ;;
*)
  echo "usage: check_mpi.sh sums|sums3|repeat|abort|kill|fingerprint|launcher|threads PROGRAM LAUNCHER"
  exit 2
  ;;
esac
[ $failed = 0 ] && echo "$case: passed"
exit $failed
