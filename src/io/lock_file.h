/* A lock file that names its holder, so that a lock left behind by a
 * process that has ended is recognised.
 *
 * The file is created exclusively (open with O_CREAT | O_EXCL, atomic on
 * local file systems and on NFS v3 and later) and holds three lines:
 *   host <gethostname>
 *   pid <process id>
 *   pid_ns <the process's pid namespace, "pid:[4026531836]"; "" when unknown>
 * A lock is stale when its holder ran on this host, in this pid namespace
 * (the same machine or container), and no process of that id exists any
 * more: SIGKILL, a crash or a second Ctrl-C leave such a lock. A lock made
 * on another host or in another container cannot be checked from here and
 * counts as held. Limit: when the id of an ended holder has since been
 * given to another process, its stale lock looks held; the message about
 * a held lock names the file to remove when the user is sure. */
#ifndef FA_IO_LOCK_FILE_H
#define FA_IO_LOCK_FILE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  FA_LOCK_ACQUIRED,    /* created: this process holds the lock */
  FA_LOCK_TAKEN_OVER,  /* it was stale (its holder is described); this process holds it now */
  FA_LOCK_BUSY,        /* someone else holds it (described when stale locks are taken over) */
  FA_LOCK_FAILED,      /* it could not be created or read: fa_error_message() says why */
} fa_lock_result;

typedef enum { FA_LOCK_KEEP_STALE, FA_LOCK_TAKE_OVER_STALE } fa_lock_stale_policy;

/* Takes the lock at path for this process. With FA_LOCK_KEEP_STALE any
 * existing lock file is BUSY, unread. holder (len bytes, may be NULL)
 * receives who held an existing lock: "process 123 on host node1, still
 * running" for BUSY, "process 123 on this host, which has ended" for
 * TAKEN_OVER. */
fa_lock_result fa_lock_acquire(const char *path, fa_lock_stale_policy stale, char *holder, size_t len);

/* Removes the lock file (its holder's last act). */
void fa_lock_release(const char *path);

#endif
