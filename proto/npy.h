/* npy.h — the .npy codec: read (versions 1.0/2.0/3.0, every convoy dtype,
 * big-endian and Fortran order converted to native C order), write (v1.0, or
 * 2.0 when the header needs it), memory-map, and atomic output files
 * (temp + fsync + rename). Stateless; any thread. Errors carry a NULL field:
 * callers that know the JSON path ("inputs.x") set err->field themselves. */
#ifndef CV_NPY_H
#define CV_NPY_H

#include <stdbool.h>
#include <stddef.h>

#include "../engine/tensor.h"

#define CV_NPY_PREFIX_LEN 12          /* magic (6) + version (2) + length (4 at most) */
#define CV_NPY_HEADER_MAX (1u << 20)  /* longest header dict accepted, in bytes */
#define CV_NPY_ALIGN 64               /* header + dict padded to a multiple, as numpy */

/* What an .npy header says. */
typedef struct cv_npy_info_s {
  cv_dtype_t dtype;
  int ndim;
  int64_t shape[CV_MAX_DIMS];
  bool fortran_order;   /* data is column-major */
  bool swap;            /* data is big-endian ('>') and needs a byte swap */
  int version;          /* 1, 2 or 3 */
  size_t header_len;    /* bytes before the data: magic, version, length, dict */
  size_t data_len;      /* bytes of data the shape needs */
} cv_npy_info_t;

/* Total header length (magic … padding) from the first len bytes; needs
 * min(len, CV_NPY_PREFIX_LEN) bytes to hold the magic, version and length.
 * Errors: -CV_EINVALID_ARGUMENT (bad magic, unknown version, too short). */
int cv_npy_header_len(const void *buf, size_t len, size_t *header_len, cv_error_t *err);

/* Parses a whole header (buf holds at least header_len bytes). Checks the
 * shape against max_bytes (0 = no cap) before anyone allocates.
 * Errors: -CV_EINVALID_ARGUMENT, -CV_EUNSUPPORTED_DTYPE (object, string,
 * structured, unknown descr), -CV_EPAYLOAD_TOO_LARGE. */
int cv_npy_parse_header(const void *buf, size_t len, size_t max_bytes, cv_npy_info_t *info,
                        cv_error_t *err);

/* Turns t's data, read raw as info describes (dtype and shape already set,
 * e.g. by cv_tensor_new from info), into native C order in place (a Fortran
 * array needs a scratch copy: -CV_EOUT_OF_MEMORY when that fails). */
int cv_npy_fixup(cv_tensor_t *t, const cv_npy_info_t *info, cv_error_t *err);

/* Decodes a whole .npy held in memory into a new tensor (refs = 1, owned by
 * the caller). len must be exactly header + data. */
int cv_npy_decode(const void *buf, size_t len, size_t max_bytes, cv_tensor_t **out,
                  cv_error_t *err);

/* Reads an .npy file into a new tensor. Missing file: -CV_ENOT_FOUND. */
int cv_npy_load(const char *path, size_t max_bytes, cv_tensor_t **out, cv_error_t *err);

/* Like cv_npy_load, but a little-endian, C-order file whose data offset is a
 * multiple of the dtype size is memory-mapped (private, copy-on-write) and
 * wrapped: the tensor's release unmaps it. Other files are read. The file
 * must not be truncated while mapped (that would raise SIGBUS). */
int cv_npy_map(const char *path, size_t max_bytes, cv_tensor_t **out, cv_error_t *err);

/* Writes a's header (magic included; padded with spaces and '\n' to a multiple
 * of CV_NPY_ALIGN; version 1.0 unless the dict needs 2.0) into buf. Returns
 * its length, or 0 when cap is too small (the length never exceeds 4096 for
 * CV_MAX_DIMS dims) or a is not a valid array. */
size_t cv_npy_header(const cv_array_t *a, char *buf, size_t cap);

/* Writes a whole .npy (header + data) to fd at its current position.
 * Errors: -CV_EINSUFFICIENT_STORAGE (ENOSPC, EDQUOT, EFBIG), -CV_EINTERNAL. */
int cv_npy_write_fd(int fd, const cv_array_t *a, cv_error_t *err);

/* Writes an .npy file atomically (see cv_outfile_t). */
int cv_npy_save(const char *path, const cv_array_t *a, cv_error_t *err);

/* ---- atomic output files: PATH.tmp.XXXXXX in the same folder, fsync, rename ---- */

typedef struct cv_outfile_s {
  int fd;        /* -1 when closed */
  char *path;    /* final name */
  char *tmp;     /* temporary name; NULL once renamed */
} cv_outfile_t;

/* Creates the temporary file (mode 0644). Errors: -CV_ENOT_FOUND (folder
 * missing), -CV_EINSUFFICIENT_STORAGE, -CV_EINTERNAL. */
int cv_outfile_open(cv_outfile_t *f, const char *path, cv_error_t *err);
/* Writes all n bytes (retrying short writes and EINTR). */
int cv_outfile_write(cv_outfile_t *f, const void *p, size_t n, cv_error_t *err);
/* fsyncs, closes and renames into place (replacing PATH), then fsyncs the
 * folder. On failure the temporary file is removed. */
int cv_outfile_commit(cv_outfile_t *f, cv_error_t *err);
/* The same; replace = false keeps an existing PATH (-CV_ECONFLICT, the
 * temporary file removed): no check-then-rename race. */
int cv_outfile_commit_ex(cv_outfile_t *f, bool replace, cv_error_t *err);
/* Closes and removes the temporary file unless committed; safe twice and
 * after a failed open. */
void cv_outfile_close(cv_outfile_t *f);

/* ---- file helpers shared with npz.c ---- */

/* write(2) until all n bytes are out; errno mapped as for cv_npy_write_fd.
 * what names the file in messages. */
int cv_write_all(int fd, const void *p, size_t n, const char *what, cv_error_t *err);
/* Opens a regular file for reading (O_CLOEXEC) and gives its size.
 * Errors: -CV_ENOT_FOUND, -CV_EINVALID_ARGUMENT (a folder, not a regular
 * file, no permission), -CV_EINTERNAL. */
int cv_file_open_read(const char *path, int *fd, size_t *size, cv_error_t *err);
/* pread(2) exactly n bytes at off; end of file first is -CV_EINVALID_ARGUMENT
 * ("truncated"). */
int cv_file_pread(int fd, void *buf, size_t n, size_t off, const char *path, cv_error_t *err);

#endif
