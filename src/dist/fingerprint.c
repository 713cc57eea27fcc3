#include "dist/fingerprint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD_SHOWN 80
#define RANKS_LISTED 8

fa_fingerprint_item fa_fingerprint_text(const char *name, const char *text) {
  return (fa_fingerprint_item){name, FA_FINGERPRINT_TEXT, text, strlen(text)};
}

fa_fingerprint_item fa_fingerprint_bytes(const char *name, const void *data, size_t bytes) {
  return (fa_fingerprint_item){name, FA_FINGERPRINT_BYTES, data, bytes};
}

uint64_t fa_fingerprint_hash(const void *data, size_t bytes) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* Root's text of the item (its first FA_FINGERPRINT_TEXT_SHOWN bytes), on every rank. */
static void shared_text(fa_comm *comm, const fa_fingerprint_item *item, int root,
                        char text[FA_FINGERPRINT_TEXT_SHOWN + 1]) {
  uint64_t len = item->bytes < FA_FINGERPRINT_TEXT_SHOWN ? item->bytes : FA_FINGERPRINT_TEXT_SHOWN;
  fa_comm_broadcast(comm, &len, sizeof len, root);
  if (comm->rank == root) memcpy(text, item->data, len);
  fa_comm_broadcast(comm, text, len, root);
  text[len] = '\0';
}

/* The word (between spaces) of `text` that starts at `at`, quoted, or "(nothing)". */
static void word_at(const char *text, size_t at, char *out, size_t size) {
  size_t len = strcspn(text + at, " ");
  if (len == 0)
    snprintf(out, size, "(nothing)");
  else
    snprintf(out, size, "\"%.*s%s\"", (int)(len < WORD_SHOWN ? len : WORD_SHOWN), text + at,
             len > WORD_SHOWN ? "..." : "");
}

/* Collective: where rank 0's and rank `other`'s text of the item first differ. */
static void text_difference(fa_comm *comm, const fa_fingerprint_item *item, int other, char *out, size_t size) {
  char a[FA_FINGERPRINT_TEXT_SHOWN + 1], b[FA_FINGERPRINT_TEXT_SHOWN + 1];
  shared_text(comm, item, 0, a);
  shared_text(comm, item, other, b);
  size_t at = 0;
  while (a[at] && a[at] == b[at]) at++;
  while (at > 0 && a[at - 1] != ' ') at--; /* the start of the word that differs */
  char wa[WORD_SHOWN + 16], wb[WORD_SHOWN + 16];
  word_at(a, at, wa, sizeof wa);
  word_at(b, at, wb, sizeof wb);
  snprintf(out, size, "rank 0 has %s, rank %d has %s", wa, other, wb);
}

fa_status fa_comm_check_same(fa_comm *comm, const fa_fingerprint_item *items, int n) {
  if (n < 0 || n > FA_FINGERPRINT_MAX_ITEMS)
    return fa_error_set(FA_ERR_INVALID, "a fingerprint of %d items: at most %d", n, FA_FINGERPRINT_MAX_ITEMS);
  uint64_t mine[FA_FINGERPRINT_MAX_ITEMS];
  for (int i = 0; i < n; i++) mine[i] = fa_fingerprint_hash(items[i].data, items[i].bytes);
  uint64_t *all = malloc((size_t)comm->size * (size_t)(n > 0 ? n : 1) * sizeof *all);
  if (!all) fa_comm_abort(comm, 1, "out of memory comparing the ranks' fingerprints");
  fa_comm_allgather(comm, mine, (size_t)n * sizeof *mine, all);
  bool differs[FA_FINGERPRINT_MAX_ITEMS] = {false};
  int first = -1, item = -1, n_ranks = 0;
  char ranks[RANKS_LISTED * 12 + 8] = "";
  for (int r = 1; r < comm->size; r++) {
    bool rank_differs = false;
    for (int i = 0; i < n; i++)
      if (all[(size_t)r * n + i] != all[i]) {
        differs[i] = rank_differs = true;
        if (first < 0) first = r, item = i; /* the first item where the first differing rank differs */
      }
    if (!rank_differs) continue;
    size_t used = strlen(ranks);
    if (n_ranks < RANKS_LISTED)
      snprintf(ranks + used, sizeof ranks - used, "%s%d", n_ranks ? ", " : "", r);
    else if (n_ranks == RANKS_LISTED)
      snprintf(ranks + used, sizeof ranks - used, ", ...");
    n_ranks++;
  }
  if (first < 0) {
    free(all);
    return FA_OK;
  }
  char names[FA_FINGERPRINT_MAX_ITEMS * 24] = "", detail[400];
  for (int i = 0; i < n; i++)
    if (differs[i]) {
      size_t used = strlen(names);
      snprintf(names + used, sizeof names - used, "%s%.20s", used ? ", " : "", items[i].name);
    }
  if (items[item].kind == FA_FINGERPRINT_TEXT)
    text_difference(comm, &items[item], first, detail, sizeof detail);
  else
    snprintf(detail, sizeof detail, "rank 0's hash to %016" PRIx64 ", rank %d's to %016" PRIx64, all[item], first,
             all[(size_t)first * n + item]);
  free(all);
  return fa_error_set(FA_ERR_INVALID, "the ranks do not run the same job: %d of %d ranks (%s) differ from rank 0 in "
                      "%s; %s: %s. Start every rank with the same program, flags and data",
                      n_ranks, comm->size, ranks, names, items[item].name, detail);
}
