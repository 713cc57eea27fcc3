/* The program's version: `fastadv --version`, and the "version" of every
 * run's configuration record (io/metrics.h). Raise it when what a run
 * computes or writes changes. */
#ifndef FA_CORE_VERSION_H
#define FA_CORE_VERSION_H

#define FA_VERSION "0.2.0"

#endif
