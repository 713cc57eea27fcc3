/* A build without an MPI library (docs/SCALE.md): no transport, so
 * fa_comm_init refuses to run under a launcher. */
#include "dist/transport.h"

const fa_transport *fa_transport_mpi(void) { return NULL; }
