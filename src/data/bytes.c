#include "data/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t mode) {
  return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO (named pipe)" : S_ISSOCK(mode) ? "a socket"
         : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device" : "not a regular file";
}

static fa_status check_stat(const char *path, const struct stat *st, uint64_t max_bytes) {
  if (!S_ISREG(st->st_mode))
    return fa_error_set(FA_ERR_IO, "%s: %s, not a regular file: put the data file itself there", path,
                        kind_of(st->st_mode));
  if ((uint64_t)st->st_size > max_bytes)
    return fa_error_set(FA_ERR_FORMAT, "%s: %lld bytes, more than the %llu that a data file may have: "
                        "this is not one of the published data files",
                        path, (long long)st->st_size, (unsigned long long)max_bytes);
  return FA_OK;
}

/* why `path` could not be opened or stat'ed (errno err): a symbolic link
 * to nothing is named as such, with its target */
static fa_status cannot_reach(const char *path, int err) {
  struct stat link;
  char target[1024];
  ssize_t n;
  if (err == ENOENT && lstat(path, &link) == 0 && S_ISLNK(link.st_mode) &&
      (n = readlink(path, target, sizeof target - 1)) >= 0) {
    target[n] = '\0';
    return fa_error_set(FA_ERR_IO, "%s: a symbolic link to %s, which does not exist", path, target);
  }
  return fa_error_set(FA_ERR_IO, "%s: cannot open: %s", path, strerror(err));
}

fa_status fa_file_size(const char *path, uint64_t max_bytes, uint64_t *size) {
  struct stat st;
  *size = 0;
  if (stat(path, &st) != 0) return cannot_reach(path, errno);
  fa_status status = check_stat(path, &st, max_bytes);
  if (!status) *size = (uint64_t)st.st_size;
  return status;
}

fa_status fa_file_read_all(const char *path, uint64_t max_bytes, uint8_t **bytes, size_t *len) {
  *bytes = NULL;
  *len = 0;
  /* non-blocking, so that a FIFO is refused by the check below instead of waiting for a writer */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return cannot_reach(path, errno);
  struct stat st;
  fa_status status = fstat(fd, &st) != 0 ? fa_error_set(FA_ERR_IO, "%s: %s", path, strerror(errno))
                                          : check_stat(path, &st, max_bytes);
  FILE *f = status ? NULL : fdopen(fd, "rb");
  if (!status && !f) status = fa_error_set(FA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (status) {
    close(fd);
    return status;
  }
  size_t size = (size_t)st.st_size;
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) {
    fclose(f);
    return fa_error_set(FA_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, size);
  }
  size_t got = fread(buf, 1, size, f);
  int failed = ferror(f);
  fclose(f);
  if (failed || got != size) {
    free(buf);
    return fa_error_set(FA_ERR_IO, "%s: read %zu of %zu bytes", path, got, size);
  }
  *bytes = buf;
  *len = size;
  return FA_OK;
}

uint64_t fa_inflate_bound(size_t compressed_len) {
  /* deflate's longest match (258 bytes) costs at least 2 bits: 1032:1, plus
   * a little for the first literals of a tiny stream */
  return (uint64_t)compressed_len * 1032 + 1024;
}

fa_status fa_check_inflated_size(uint64_t want, size_t compressed_len, const char *source,
                                 const char *what) {
  if (want > FA_DATA_MAX_BYTES)
    return fa_error_set(FA_ERR_FORMAT, "%s: %s would be %llu bytes, more than the %llu allowed: "
                        "the header is corrupt or this is not a published data file",
                        source, what, (unsigned long long)want, (unsigned long long)FA_DATA_MAX_BYTES);
  if (want > fa_inflate_bound(compressed_len))
    return fa_error_set(FA_ERR_FORMAT, "%s: %s is announced as %llu bytes, but %zu compressed bytes "
                        "can hold at most %llu: the file is truncated or corrupt; download it again",
                        source, what, (unsigned long long)want, compressed_len,
                        (unsigned long long)fa_inflate_bound(compressed_len));
  return FA_OK;
}

fa_status fa_inflate_begin(fa_inflater *in, const uint8_t *src, size_t len, fa_zformat format,
                           const char *source) {
  memset(in, 0, sizeof *in);
  in->source = source;
  in->compressed_len = len;
  in->z.next_in = (Bytef *)src;
  in->z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
  int window = format == FA_GZIP_STREAM ? 15 + 16 : 15;
  if (inflateInit2(&in->z, window) != Z_OK)
    return fa_error_set(FA_ERR_NOMEM, "%s: cannot start zlib", source);
  return FA_OK;
}

fa_status fa_inflate_exact(fa_inflater *in, uint8_t *dst, size_t n, const char *what) {
  size_t done = 0;
  while (done < n) {
    if (in->ended)
      return fa_error_set(FA_ERR_FORMAT, "%s: the compressed stream ends after %zu of the %zu bytes "
                          "of %s: the file is truncated; download it again",
                          in->source, done, n, what);
    size_t chunk = n - done > UINT32_MAX ? UINT32_MAX : n - done;
    in->z.next_out = dst + done;
    in->z.avail_out = (uInt)chunk;
    int rc = inflate(&in->z, Z_NO_FLUSH);
    done += chunk - in->z.avail_out;
    if (rc == Z_STREAM_END) {
      in->ended = 1;
    } else if (rc == Z_BUF_ERROR) { /* no progress with room to write: the input ran out */
      return fa_error_set(FA_ERR_FORMAT, "%s: the compressed data stops after %zu of the %zu bytes "
                          "of %s: the file is truncated; download it again",
                          in->source, done, n, what);
    } else if (rc != Z_OK) {
      return fa_error_set(FA_ERR_FORMAT, "%s: corrupt compressed data in %s (zlib: %s); "
                          "download the file again",
                          in->source, what, in->z.msg ? in->z.msg : "error");
    }
  }
  return FA_OK;
}

fa_status fa_inflate_expect_end(fa_inflater *in, const char *what) {
  while (!in->ended) {
    uint8_t extra;
    in->z.next_out = &extra;
    in->z.avail_out = 1;
    int rc = inflate(&in->z, Z_NO_FLUSH);
    if (in->z.avail_out == 0)
      return fa_error_set(FA_ERR_FORMAT, "%s: the compressed stream holds more than its header "
                          "declares, after %s: the file is corrupt; download it again", in->source, what);
    if (rc == Z_STREAM_END) in->ended = 1;
    else if (rc == Z_BUF_ERROR)
      return fa_error_set(FA_ERR_FORMAT, "%s: the compressed stream stops after %s without its "
                          "end and checksum: the file is truncated; download it again", in->source, what);
    else if (rc != Z_OK)
      return fa_error_set(FA_ERR_FORMAT, "%s: corrupt compressed data after %s (zlib: %s); "
                          "download the file again", in->source, what, in->z.msg ? in->z.msg : "error");
  }
  return FA_OK;
}

void fa_inflate_end(fa_inflater *in) { inflateEnd(&in->z); }
