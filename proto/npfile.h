/* npfile.h — one disk output (.npy, or .npz of several members) written in
 * chunks as the data is produced: a temporary file next to the target
 * (O_EXCL), the .npy header (or zip local header + .npy header) first, then
 * each member's bytes in order (offset checked, CRC-32 computed as they
 * come), then commit = fsync + rename + fsync of the folder; abort removes
 * the temporary file. No threads or locks of its own: one caller at a time
 * (a libuv pool thread in convoyd, the caller's thread in tests). */
#ifndef CV_NPFILE_H
#define CV_NPFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "npy.h"
#include "npz.h"

typedef enum { CV_NPFILE_NPY, CV_NPFILE_NPZ } cv_npfile_kind_t;

typedef struct cv_npfile_s {
  cv_npfile_kind_t kind;
  bool overwrite;          /* commit replaces an existing target (else 409) */
  bool open, failed, committed;
  cv_outfile_t f;
  cv_npz_writer_t z;       /* NPZ */
  int members;             /* members begun so far (NPY: at most 1) */
  bool in_member;
  uint64_t next, len;      /* the member's next expected data offset, its data length */
} cv_npfile_t;

/* Creates path's temporary file. Errors: -CV_ENOT_FOUND (folder missing),
 * -CV_EINSUFFICIENT_STORAGE, -CV_EINTERNAL. */
int cv_npfile_open(cv_npfile_t *f, const char *path, cv_npfile_kind_t kind, bool overwrite, cv_error_t *err);
/* Starts a member shaped as a (a->data is not read): the .npy header, and for
 * NPZ the member "NAME.npy". NPY takes exactly one member (name ignored). */
int cv_npfile_begin(cv_npfile_t *f, const char *name, const cv_array_t *a, cv_error_t *err);
/* The member's data bytes [offset, offset + n): offset must be where the
 * previous chunk ended (else -CV_EINTERNAL, and the file fails). */
int cv_npfile_write(cv_npfile_t *f, uint64_t offset, const void *p, size_t n, cv_error_t *err);
/* Ends the member (all of its bytes must have come). */
int cv_npfile_end(cv_npfile_t *f, cv_error_t *err);
/* Finishes the archive, fsyncs, renames into place (without overwrite an
 * existing target is -CV_ECONFLICT and nothing is replaced), fsyncs the
 * folder. On failure the temporary file is removed. */
int cv_npfile_commit(cv_npfile_t *f, cv_error_t *err);
/* Removes the temporary file unless committed; frees everything. Safe twice,
 * after a failed open and on a zeroed struct. */
void cv_npfile_abort(cv_npfile_t *f);
/* The temporary file's name while open (NULL otherwise). */
const char *cv_npfile_tmp(const cv_npfile_t *f);

#endif
