/* The built-in backends. Adding one is one line here (its name in the list
 * below, the default first) and its folder, src/backend/<name>/, defining
 * `const fa_backend fa_backend_<name>` (docs/ARCHITECTURE.md, "Adding a
 * backend"). */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

#define FA_BUILTIN_BACKENDS(X) X(cpu) X(ref)

#define FA_DECLARE(name) extern const fa_backend fa_backend_##name;
FA_BUILTIN_BACKENDS(FA_DECLARE)
#undef FA_DECLARE

#define FA_ENTRY(name) &fa_backend_##name,
static const fa_backend *const builtin[] = {FA_BUILTIN_BACKENDS(FA_ENTRY)};
#undef FA_ENTRY
enum { N_BUILTIN = sizeof builtin / sizeof *builtin };

const fa_backend *fa_backend_at(size_t i) { return i < N_BUILTIN ? builtin[i] : NULL; }

const fa_backend *fa_backend_find(const char *name) {
  for (size_t i = 0; i < N_BUILTIN; i++)
    if (strcmp(builtin[i]->name, name) == 0) return builtin[i];
  return NULL;
}

const char *fa_backend_names(char *buf, size_t len) {
  size_t at = 0;
  if (len) buf[0] = '\0';
  for (size_t i = 0; i < N_BUILTIN && at < len; i++) {
    int k = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", builtin[i]->name);
    at += k > 0 ? (size_t)k : 0;
  }
  return buf;
}
