/* auth.c — API keys: file loading (swap under the write lock on SIGHUP) and
 * a constant-time Bearer comparison against every key (no early exit, so the
 * time does not reveal which key or how many bytes matched). */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cv_auth_init(cv_auth_t *a) {
  memset(a, 0, sizeof *a);
  if (pthread_rwlock_init(&a->lock, NULL) != 0) return -CV_EINTERNAL;
  a->inited = true;
  return 0;
}

static void free_keys(char **keys, size_t n) {
  for (size_t i = 0; i < n; i++) free(keys[i]);
  free(keys);
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = 0;
  return s;
}

int cv_auth_load(cv_auth_t *a, const char *path, cv_error_t *err) {
  char **keys = NULL;
  size_t n = 0, cap = 0;
  if (path && path[0]) {
    FILE *f = fopen(path, "r");
    if (!f)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "api_keys_file", "cannot open %s: %s", path,
                          strerror(errno));
    char line[CV_AUTH_KEY_MAX + 4];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
      if (!strchr(line, '\n') && !feof(f)) {
        rc = cv_error_set(err, CV_EINVALID_ARGUMENT, "api_keys_file", "a key in %s is over %d bytes", path,
                          CV_AUTH_KEY_MAX);
        break;
      }
      char *k = trim(line);
      if (!k[0] || k[0] == '#') continue;
      if (n == cap) {
        size_t nc = cap ? cap * 2 : 8;
        char **nk = realloc(keys, nc * sizeof *nk);
        if (!nk) {
          rc = cv_error_set(err, CV_EOUT_OF_MEMORY, "api_keys_file", "no memory for API keys");
          break;
        }
        keys = nk;
        cap = nc;
      }
      if (!(keys[n] = strdup(k))) {
        rc = cv_error_set(err, CV_EOUT_OF_MEMORY, "api_keys_file", "no memory for API keys");
        break;
      }
      n++;
    }
    fclose(f);
    if (!rc && n == 0) rc = cv_error_set(err, CV_EINVALID_ARGUMENT, "api_keys_file", "%s holds no key", path);
    if (rc) {
      free_keys(keys, n);
      return rc;
    }
  }
  pthread_rwlock_wrlock(&a->lock);
  char **old = a->keys;
  size_t old_n = a->n_keys;
  a->keys = keys;
  a->n_keys = n;
  pthread_rwlock_unlock(&a->lock);
  free_keys(old, old_n);
  return 0;
}

bool cv_auth_enabled(cv_auth_t *a) {
  pthread_rwlock_rdlock(&a->lock);
  bool on = a->keys != NULL;
  pthread_rwlock_unlock(&a->lock);
  return on;
}

/* Constant time in the candidate for a given key length. */
static int ct_diff(const char *key, const char *cand, size_t cand_len) {
  size_t kl = strlen(key);
  volatile unsigned char d = (unsigned char)(kl != cand_len);
  for (size_t i = 0; i < kl; i++) d |= (unsigned char)key[i] ^ (unsigned char)(i < cand_len ? cand[i] : 0);
  return d;
}

bool cv_auth_check(cv_auth_t *a, const char *header) {
  pthread_rwlock_rdlock(&a->lock);
  bool ok;
  if (!a->keys) {
    ok = true;
  } else if (!header || strncasecmp(header, "Bearer ", 7) != 0) {
    ok = false;
  } else {
    const char *c = header + 7;
    while (*c == ' ') c++;
    size_t cl = strlen(c);
    while (cl && (c[cl - 1] == ' ' || c[cl - 1] == '\t')) cl--;
    int match = 0;
    for (size_t i = 0; i < a->n_keys; i++) match |= ct_diff(a->keys[i], c, cl) == 0;
    ok = match != 0 && cl > 0;
  }
  pthread_rwlock_unlock(&a->lock);
  return ok;
}

void cv_auth_close(cv_auth_t *a) {
  if (!a->inited) return;
  free_keys(a->keys, a->n_keys);
  a->keys = NULL;
  a->n_keys = 0;
  pthread_rwlock_destroy(&a->lock);
  a->inited = false;
}
