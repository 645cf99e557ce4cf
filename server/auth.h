/* auth.h — optional API keys (design.md §5 api_keys_file): one key per line,
 * blank lines and '#' comments skipped. A request passes with
 * `Authorization: Bearer <key>`, compared in constant time against every
 * key. Reloaded on SIGHUP (loop thread) while MHD threads check: a rwlock
 * guards the key set. */
#ifndef CV_AUTH_H
#define CV_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "../proto/errors.h"

#define CV_AUTH_KEY_MAX 512   /* longest key accepted in the file */

typedef struct cv_auth_s {
  pthread_rwlock_t lock;
  bool inited;
  char **keys;     /* NULL when keys are off */
  size_t n_keys;
} cv_auth_t;

int cv_auth_init(cv_auth_t *a);
/* Loads path (NULL or "" = keys off); on error the old keys stay. Errors:
 * -CV_EINVALID_ARGUMENT (unreadable file, a file without keys, a key too long). */
int cv_auth_load(cv_auth_t *a, const char *path, cv_error_t *err);
bool cv_auth_enabled(cv_auth_t *a);
/* True when keys are off or header (the Authorization value, may be NULL)
 * carries a valid Bearer key. */
bool cv_auth_check(cv_auth_t *a, const char *header);
void cv_auth_close(cv_auth_t *a);

#endif
