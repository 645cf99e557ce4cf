/* npz.h — .npz archives (a zip of .npy members, as numpy.savez writes them):
 * a loader (stored and deflated members, zip64) and a streaming writer that
 * adds members one after another to an fd, CRC and deflate computed in chunks,
 * never seeking (sizes go in data descriptors), zip64 where needed.
 * No shared state: one writer per thread at a time; any thread. */
#ifndef CV_NPZ_H
#define CV_NPZ_H

#include <stdbool.h>
#include <stdint.h>

#include "npy.h"

/* One loaded member: its name without ".npy", and a tensor reference. */
typedef struct cv_named_tensor_s {
  char name[CV_NAME_MAX];
  cv_tensor_t *t;
} cv_named_tensor_t;

/* Loads every member of an .npz file. max_bytes caps the sum of the members'
 * data (0 = no cap), checked from each header before allocating. *out is a
 * malloc'd array of *n entries (NULL when the archive is empty); free it with
 * cv_named_tensors_free. Directory entries are skipped; any other member not
 * named *.npy, duplicate names, encrypted members, methods other than stored
 * and deflate, CRC mismatches and truncation are -CV_EINVALID_ARGUMENT. */
int cv_npz_load(const char *path, size_t max_bytes, cv_named_tensor_t **out, int *n,
                cv_error_t *err);
/* Unrefs every tensor and frees the array; NULL-safe. */
void cv_named_tensors_free(cv_named_tensor_t *arr, int n);

/* ---- streaming writer ---- */

typedef struct cv_npz_entry_s cv_npz_entry_t;   /* one central-directory row (private) */

typedef struct cv_npz_writer_s {
  int fd;                  /* not owned: the caller opens and closes it */
  bool deflate;            /* members deflated (else stored) */
  bool force_zip64;        /* zip64 records for every member and the end; set after open */
  bool failed;             /* a write failed: the archive is unusable */
  bool finished;
  uint64_t base;           /* fd position at open: where the archive starts */
  uint64_t offset;         /* archive bytes written so far */
  uint16_t dos_time, dos_date;
  cv_npz_entry_t *entries;
  int n, cap;
  unsigned char *buf;      /* deflate output chunk */
  /* the member being written (between _begin and _end) */
  bool in_member;
  uint64_t data_left;      /* data bytes _data still expects */
  unsigned long crc;       /* CRC-32 so far (header + data) */
  uint64_t comp;           /* bytes of the member body written so far */
  void *zs;                /* z_stream while deflating a member */
} cv_npz_writer_t;

/* Starts an archive at fd's current position (fd may be a pipe). */
int cv_npz_writer_open(cv_npz_writer_t *w, int fd, bool deflate, cv_error_t *err);
/* Appends a's .npy as member "NAME.npy". name: 1..CV_NAME_MAX-1 bytes, no '/'
 * or '\\', unique. Errors: -CV_EINVALID_ARGUMENT (name), -CV_EINSUFFICIENT_STORAGE,
 * -CV_EINTERNAL; after a write error the writer only accepts close. */
int cv_npz_writer_add(cv_npz_writer_t *w, const char *name, const cv_array_t *a, cv_error_t *err);
/* The same in pieces, for data that arrives in chunks: _begin writes the
 * local header and a's .npy header (a->data is not read), _data appends the
 * next n data bytes in order (CRC and deflate as they come), _end checks that
 * exactly the array's bytes came and writes the data descriptor. Errors as
 * for _add; more data than the array holds, or _end before all of it, is
 * -CV_EINTERNAL and fails the writer. */
int cv_npz_writer_begin(cv_npz_writer_t *w, const char *name, const cv_array_t *a, cv_error_t *err);
int cv_npz_writer_data(cv_npz_writer_t *w, const void *p, size_t n, cv_error_t *err);
int cv_npz_writer_end(cv_npz_writer_t *w, cv_error_t *err);
/* Writes the central directory (and zip64 end records when needed). */
int cv_npz_writer_finish(cv_npz_writer_t *w, cv_error_t *err);
/* Frees the writer's memory (never closes fd); safe twice and after a failed open. */
void cv_npz_writer_close(cv_npz_writer_t *w);

/* ---- an .npz laid out in memory around the arrays (HTTP responses) ----
 * Stored members with their CRC-32 and sizes in the local headers (no data
 * descriptors), so the whole archive is a list of segments: header blocks
 * (in one malloc'd buffer the layout owns) and the arrays' own bytes, never
 * copied. Zip64 records where a member, an offset or the archive reach 4 GiB. */

typedef struct cv_npz_seg_s {
  const void *p;
  size_t n;
} cv_npz_seg_t;

typedef struct cv_npz_layout_s {
  cv_npz_seg_t *segs;      /* in order; the caller sends them one after another */
  int n_segs;
  uint64_t size;           /* sum of the segments: the archive's length */
  unsigned char *meta;     /* owned: local headers, .npy headers, directory */
} cv_npz_layout_t;

/* CRC-32 of a's .npy member (header + data), as the layout needs it. */
uint32_t cv_npz_member_crc(const cv_array_t *a);
/* Builds the layout of arrays[0..n) named as given, with crcs[i] from
 * cv_npz_member_crc (NULL: computed here). The arrays' data must outlive
 * the layout's use. Errors: -CV_EINVALID_ARGUMENT (names), -CV_EOUT_OF_MEMORY,
 * -CV_EINTERNAL (bad array). */
int cv_npz_layout(const cv_io_t *arrays, int n, const uint32_t *crcs, cv_npz_layout_t *out,
                  cv_error_t *err);
void cv_npz_layout_free(cv_npz_layout_t *l);   /* NULL-safe, safe twice */

/* Writes arrays[0..n) to an .npz at path: temp file, fsync, rename; nothing
 * is left behind on failure. */
int cv_npz_save(const char *path, const cv_io_t *arrays, int n, bool deflate, cv_error_t *err);

#endif
