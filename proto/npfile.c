/* npfile.c — a disk output written in chunks (see npfile.h): .npy is the
 * header then the data as it comes; .npz goes through the streaming npz
 * writer (local header, data, data descriptor; zip64 past 4 GiB), so no
 * member needs to be complete before it starts. One caller at a time. */
#include "npfile.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(cv_npfile_t *f, int rc) {
  f->failed = true;
  return rc;
}

int cv_npfile_open(cv_npfile_t *f, const char *path, cv_npfile_kind_t kind, bool overwrite, cv_error_t *err) {
  memset(f, 0, sizeof *f);
  f->f.fd = -1;
  f->kind = kind;
  f->overwrite = overwrite;
  int rc = cv_outfile_open(&f->f, path, err);
  if (rc) {
    cv_outfile_close(&f->f);
    return fail(f, rc);
  }
  f->open = true;
  if (kind == CV_NPFILE_NPZ && (rc = cv_npz_writer_open(&f->z, f->f.fd, false, err))) return fail(f, rc);
  return 0;
}

int cv_npfile_begin(cv_npfile_t *f, const char *name, const cv_array_t *a, cv_error_t *err) {
  if (!f->open || f->failed || f->in_member || (f->kind == CV_NPFILE_NPY && f->members))
    return cv_error_set(err, CV_EINTERNAL, NULL, "output file: member started out of turn");
  size_t nbytes;
  int rc = cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nbytes, NULL, err);
  if (rc) return rc;
  if (f->kind == CV_NPFILE_NPZ) {
    rc = cv_npz_writer_begin(&f->z, name, a, err);
  } else {
    char hdr[4096];
    size_t hl = cv_npy_header(a, hdr, sizeof hdr);
    rc = hl ? cv_outfile_write(&f->f, hdr, hl, err)
            : cv_error_set(err, CV_EINTERNAL, NULL, "cannot build an .npy header");
  }
  if (rc) return fail(f, rc);
  f->members++;
  f->in_member = true;
  f->next = 0;
  f->len = nbytes;
  return 0;
}

int cv_npfile_write(cv_npfile_t *f, uint64_t offset, const void *p, size_t n, cv_error_t *err) {
  if (!f->open || f->failed || !f->in_member)
    return cv_error_set(err, CV_EINTERNAL, NULL, "output file: write outside a member");
  if (offset != f->next || n > f->len - f->next)
    return fail(f, cv_error_set(err, CV_EINTERNAL, NULL,
                                "output file: chunk at byte %llu (+%zu) out of order (expected %llu of %llu)",
                                (unsigned long long)offset, n, (unsigned long long)f->next,
                                (unsigned long long)f->len));
  int rc = f->kind == CV_NPFILE_NPZ ? cv_npz_writer_data(&f->z, p, n, err) : cv_outfile_write(&f->f, p, n, err);
  if (rc) return fail(f, rc);
  f->next += n;
  return 0;
}

int cv_npfile_end(cv_npfile_t *f, cv_error_t *err) {
  if (!f->open || f->failed || !f->in_member)
    return cv_error_set(err, CV_EINTERNAL, NULL, "output file: end outside a member");
  if (f->next != f->len)
    return fail(f, cv_error_set(err, CV_EINTERNAL, NULL, "output file: member ended at byte %llu of %llu",
                                (unsigned long long)f->next, (unsigned long long)f->len));
  int rc = f->kind == CV_NPFILE_NPZ ? cv_npz_writer_end(&f->z, err) : 0;
  if (rc) return fail(f, rc);
  f->in_member = false;
  return 0;
}

int cv_npfile_commit(cv_npfile_t *f, cv_error_t *err) {
  if (!f->open || f->failed || f->in_member || (f->kind == CV_NPFILE_NPY && !f->members))
    return cv_error_set(err, CV_EINTERNAL, NULL, "output file: commit before its members were written");
  int rc = f->kind == CV_NPFILE_NPZ ? cv_npz_writer_finish(&f->z, err) : 0;
  if (!rc) rc = cv_outfile_commit_ex(&f->f, f->overwrite, err);   /* removes the temp file on failure */
  if (rc) return fail(f, rc);
  f->committed = true;
  cv_npfile_abort(f);   /* frees; the file stays */
  return 0;
}

void cv_npfile_abort(cv_npfile_t *f) {
  if (f->kind == CV_NPFILE_NPZ) cv_npz_writer_close(&f->z);
  if (f->open) cv_outfile_close(&f->f);   /* unlinks the temp file unless renamed */
  f->open = false;
  f->in_member = false;
}

const char *cv_npfile_tmp(const cv_npfile_t *f) { return f->open ? f->f.tmp : NULL; }
