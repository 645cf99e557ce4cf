/* paths.c — data_dir confinement; see paths.h. */
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int mkdir_one(const char *p, cv_error_t *err) {
  if (mkdir(p, 0755) == 0 || errno == EEXIST) return 0;
  return cv_error_set(err, errno == ENOSPC ? CV_EINSUFFICIENT_STORAGE : CV_EINTERNAL, NULL,
                      "cannot create folder %s: %s", p, strerror(errno));
}

int cv_data_dir_prepare(const char *data_dir, cv_error_t *err) {
  char p[PATH_MAX];
  int rc = mkdir_one(data_dir, err);
  if (rc) return rc;
  snprintf(p, sizeof p, "%s/inputs", data_dir);
  if ((rc = mkdir_one(p, err))) return rc;
  snprintf(p, sizeof p, "%s/outputs", data_dir);
  return mkdir_one(p, err);
}

/* True when path equals dir or lies below it (both real paths). */
static bool inside(const char *dir, const char *path) {
  size_t n = strlen(dir);
  return strncmp(dir, path, n) == 0 && (path[n] == '/' || path[n] == 0);
}

int cv_resolve_input(const char *data_dir, const char *rel, const char *field, char *out, size_t cap,
                     cv_error_t *err) {
  char base[PATH_MAX], joined[PATH_MAX], realbase[PATH_MAX], real[PATH_MAX];
  snprintf(base, sizeof base, "%s/inputs", data_dir);
  if (!realpath(base, realbase))
    return cv_error_set(err, CV_ENOT_FOUND, field, "the inputs folder %s does not exist", base);
  if (!rel[0]) return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "empty file: path");
  if (rel[0] == '/')
    snprintf(joined, sizeof joined, "%s", rel);
  else if ((size_t)snprintf(joined, sizeof joined, "%s/%s", realbase, rel) >= sizeof joined)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "path too long");
  if (!realpath(joined, real)) {
    if (errno == ENOENT || errno == ENOTDIR) {
      /* Say 404 only for paths that would lie inside; others are 400. */
      if (rel[0] == '/' && !inside(realbase, joined))
        return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "file: paths must lie inside data_dir/inputs");
      if (strstr(rel, ".."))
        return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "file: paths must not contain '..'");
      return cv_error_set(err, CV_ENOT_FOUND, field, "no such input file: %s", rel);
    }
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "cannot resolve %s: %s", rel, strerror(errno));
  }
  if (!inside(realbase, real) || strcmp(realbase, real) == 0)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "file: paths must lie inside data_dir/inputs");
  struct stat st;
  if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "%s is not a regular file", rel);
  if (strlen(real) >= cap) return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "path too long");
  memcpy(out, real, strlen(real) + 1);
  return 0;
}

int cv_resolve_output(const char *data_dir, const char *rel, const char *field, char *out, size_t cap,
                      cv_error_t *err) {
  char base[PATH_MAX], realbase[PATH_MAX], dir[PATH_MAX], realdir[PATH_MAX];
  if (!rel[0]) return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "empty output path");
  if (rel[0] == '/') return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "output paths are relative to data_dir/outputs");
  /* reject any ".." component */
  for (const char *p = rel; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "output paths must not contain '..'");
    p += n;
    while (*p == '/') p++;
  }
  snprintf(base, sizeof base, "%s/outputs", data_dir);
  if (!realpath(base, realbase)) {
    int rc = cv_data_dir_prepare(data_dir, err);
    if (rc) return rc;
    if (!realpath(base, realbase)) return cv_error_set(err, CV_EINTERNAL, NULL, "no outputs folder");
  }
  char full[PATH_MAX];
  if ((size_t)snprintf(full, sizeof full, "%s/%s", realbase, rel) >= sizeof full)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "path too long");
  /* create the parent folders one by one, checking each stays inside */
  snprintf(dir, sizeof dir, "%s", full);
  char *slash = strrchr(dir, '/');
  bool is_dir = full[strlen(full) - 1] == '/';
  if (!is_dir && slash) *slash = 0;
  size_t blen = strlen(realbase);
  for (char *p = strlen(dir) > blen ? dir + blen + 1 : dir + strlen(dir); *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int rc = mkdir_one(dir, err);
    *p = '/';
    if (rc) return rc;
  }
  int rc = mkdir_one(dir, err);
  if (rc) return rc;
  if (!realpath(dir, realdir) || !inside(realbase, realdir))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "output path leaves data_dir/outputs");
  struct stat st;
  if (!is_dir && lstat(full, &st) == 0 && S_ISLNK(st.st_mode))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "output path is a symlink");
  if (strlen(full) >= cap) return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "path too long");
  memcpy(out, full, strlen(full) + 1);
  return 0;
}
