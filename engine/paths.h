/* paths.h — confinement of file paths to data_dir: `file:` inputs must lie
 * in data_dir/inputs, disk outputs in data_dir/outputs (no "..", no absolute
 * outputs, no symlink out). Pure filesystem checks; any thread. */
#ifndef CV_PATHS_H
#define CV_PATHS_H

#include <stddef.h>

#include "../proto/errors.h"

/* Creates data_dir, data_dir/inputs and data_dir/outputs when missing. */
int cv_data_dir_prepare(const char *data_dir, cv_error_t *err);

/* Resolves a `file:` reference. rel is relative to data_dir/inputs, or
 * absolute when its real path lies inside that folder. Writes the real path
 * into out (cap >= PATH_MAX). Errors: 400 invalid_argument (outside; field),
 * 404 not_found (missing). */
int cv_resolve_input(const char *data_dir, const char *rel, const char *field, char *out, size_t cap,
                     cv_error_t *err);

/* Resolves a disk output path relative to data_dir/outputs: rejects absolute
 * paths and ".." components, creates missing folders below outputs/, and
 * checks that the folder's real path stays inside outputs/ (symlinks).
 * Errors: 400 invalid_argument with field. */
int cv_resolve_output(const char *data_dir, const char *rel, const char *field, char *out, size_t cap,
                      cv_error_t *err);

#endif
