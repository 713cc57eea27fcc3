#include "data/idx.h"

#include <stdlib.h>
#include <string.h>

#include "data/bytes.h"

#define IDX_TYPE_UBYTE 0x08

/* Checks the 4-byte magic and reads ndim. */
static fa_status parse_magic(const uint8_t magic[4], const char *source, int *ndim) {
  if (magic[0] != 0 || magic[1] != 0)
    return fa_error_set(FA_ERR_FORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x, expected "
                        "00 00 08 <ndim>): check the file name and download it again",
                        source, magic[0], magic[1], magic[2], magic[3]);
  if (magic[2] != IDX_TYPE_UBYTE)
    return fa_error_set(FA_ERR_FORMAT, "%s: IDX value type 0x%02x, but only unsigned bytes (0x08), "
                        "the type of the published MNIST files, are read", source, magic[2]);
  if (magic[3] < 1 || magic[3] > FA_IDX_MAX_DIMS)
    return fa_error_set(FA_ERR_FORMAT, "%s: IDX file with %d dimensions; 1 to %d expected",
                        source, magic[3], FA_IDX_MAX_DIMS);
  *ndim = magic[3];
  return FA_OK;
}

/* Reads the dimensions and the data size they imply (at most the limit). */
static fa_status parse_dims(const uint8_t *p, const char *source, fa_idx_array *out, uint64_t *size) {
  uint64_t total = 1;
  for (int i = 0; i < out->ndim; i++) {
    out->dims[i] = fa_load_be32(p + 4 * i);
    if (out->dims[i] == 0)
      return fa_error_set(FA_ERR_FORMAT, "%s: dimension %d is 0: the file holds no data", source, i);
    total *= out->dims[i];
    if (total > FA_DATA_MAX_BYTES)
      return fa_error_set(FA_ERR_FORMAT, "%s: the IDX header declares more than %llu values: the "
                          "header is corrupt", source, (unsigned long long)FA_DATA_MAX_BYTES);
  }
  *size = total;
  return FA_OK;
}

static fa_status parse_plain(const uint8_t *bytes, size_t len, const char *source, fa_idx_array *out) {
  if (len < 4)
    return fa_error_set(FA_ERR_FORMAT, "%s: %zu bytes, too short for an IDX header: the file is "
                        "empty or truncated; download it again", source, len);
  fa_status st = parse_magic(bytes, source, &out->ndim);
  if (st) return st;
  size_t header = 4 + 4 * (size_t)out->ndim;
  if (len < header)
    return fa_error_set(FA_ERR_FORMAT, "%s: truncated in the IDX header (%zu of %zu bytes); "
                        "download it again", source, len, header);
  uint64_t size = 0;
  if ((st = parse_dims(bytes + 4, source, out, &size))) return st;
  if (len - header != size)
    return fa_error_set(FA_ERR_FORMAT, "%s: the header declares %llu data bytes but the file holds "
                        "%zu: the file is %s; download it again", source, (unsigned long long)size,
                        len - header, len - header < size ? "truncated" : "corrupt (trailing data)");
  out->data = malloc(size);
  if (!out->data) return fa_error_set(FA_ERR_NOMEM, "%s: cannot allocate %llu bytes", source,
                                      (unsigned long long)size);
  memcpy(out->data, bytes + header, size);
  return FA_OK;
}

static fa_status parse_gzip(const uint8_t *bytes, size_t len, const char *source, fa_idx_array *out) {
  fa_inflater in;
  fa_status st = fa_inflate_begin(&in, bytes, len, FA_GZIP_STREAM, source);
  if (st) return st;
  uint8_t header[4 + 4 * FA_IDX_MAX_DIMS];
  uint64_t size = 0;
  if (!(st = fa_inflate_exact(&in, header, 4, "the IDX header")) &&
      !(st = parse_magic(header, source, &out->ndim)) &&
      !(st = fa_inflate_exact(&in, header + 4, 4 * (size_t)out->ndim, "the IDX header")) &&
      !(st = parse_dims(header + 4, source, out, &size)) &&
      !(st = fa_check_inflated_size(size, len, source, "the IDX data"))) {
    out->data = malloc(size);
    if (!out->data)
      st = fa_error_set(FA_ERR_NOMEM, "%s: cannot allocate %llu bytes", source, (unsigned long long)size);
    else
      st = fa_inflate_exact(&in, out->data, size, "the IDX data");
  }
  if (!st) st = fa_inflate_expect_end(&in, "the IDX data");
  fa_inflate_end(&in);
  return st;
}

fa_status fa_idx_parse(const uint8_t *bytes, size_t len, const char *source, fa_idx_array *out) {
  memset(out, 0, sizeof *out);
  int gzipped = len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  fa_status st = gzipped ? parse_gzip(bytes, len, source, out) : parse_plain(bytes, len, source, out);
  if (st) fa_idx_free(out);
  return st;
}

fa_status fa_idx_read(const char *path, fa_idx_array *out) {
  memset(out, 0, sizeof *out);
  uint8_t *bytes;
  size_t len;
  fa_status st = fa_file_read_all(path, FA_DATA_MAX_BYTES, &bytes, &len);
  if (st) return st;
  st = fa_idx_parse(bytes, len, path, out);
  free(bytes);
  return st;
}

void fa_idx_free(fa_idx_array *a) {
  free(a->data);
  memset(a, 0, sizeof *a);
}
