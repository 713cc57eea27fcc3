# Sourced by tests/check_mpi.sh and tests/check_mpi_train.sh, with $case and
# $launcher set: exits 77 (a skip, with the reason) when there is no launcher
# or the build has no MPI; sets $flags for the launcher, $tmp (removed at
# exit), $failed and fail MESSAGE.
if [ -z "$launcher" ]; then
  echo "skipped: fastadv was built without MPI (install libopenmpi-dev and openmpi-bin: scripts/setup.sh)"
  exit 77
fi
if ! command -v "$launcher" >/dev/null 2>&1; then
  echo "skipped: the MPI launcher $launcher is not installed (openmpi-bin: scripts/setup.sh)"
  exit 77
fi
# Open MPI wants leave to start more ranks than cores, and to run as root;
# MPICH's Hydra takes neither flag and needs neither.
flags=""
if "$launcher" --version 2>&1 | grep -q 'Open MPI\|OpenRTE'; then
  flags="--oversubscribe"
  [ "$(id -u)" -eq 0 ] && flags="$flags --allow-run-as-root"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL ($case): $*"; failed=1; }
