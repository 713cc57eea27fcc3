/* The check, at start, that every rank runs the same job (docs/SCALE.md):
 * each rank hashes what it was given (the program's version, its flags,
 * its data) and the ranks compare the hashes with rank 0's. A mismatch is
 * the same error on every rank, naming the ranks and what differs, so that
 * every rank refuses to start rather than train a model no one asked for. */
#ifndef FA_DIST_FINGERPRINT_H
#define FA_DIST_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "dist/comm.h"

#define FA_FINGERPRINT_MAX_ITEMS 16
/* A text item differing between ranks is shown from its first bytes, up to this many. */
#define FA_FINGERPRINT_TEXT_SHOWN 4096

typedef enum {
  FA_FINGERPRINT_TEXT,  /* a string, shown where it differs (version, flags) */
  FA_FINGERPRINT_BYTES, /* any bytes, shown by their hash (data) */
} fa_fingerprint_kind;

typedef struct {
  const char *name;
  fa_fingerprint_kind kind;
  const void *data;
  size_t bytes;
} fa_fingerprint_item;

fa_fingerprint_item fa_fingerprint_text(const char *name, const char *text);
fa_fingerprint_item fa_fingerprint_bytes(const char *name, const void *data, size_t bytes);

/* 64-bit FNV-1a of the bytes. */
uint64_t fa_fingerprint_hash(const void *data, size_t bytes);

/* Collective: FA_OK when every rank's items hash as rank 0's, else
 * FA_ERR_INVALID on every rank with one message: how many ranks and which
 * differ, in which items, and the first difference (for a text item the
 * word where it starts on rank 0 and on the first differing rank, for
 * bytes their hashes). n at most FA_FINGERPRINT_MAX_ITEMS, and the same
 * on every rank. */
fa_status fa_comm_check_same(fa_comm *comm, const fa_fingerprint_item *items, int n);

#endif
