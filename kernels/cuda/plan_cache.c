/* plan_cache.c — the conv plan cache (plan_cache.h): an array of entries
 * with hashes and use stamps under one mutex, loaded from and appended to
 * a text file. Called from the device worker (and tests' threads). */
#include "plan_cache.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../proto/errors.h"
#include "conv_select.h"

#define HEADER "# convoy conv plans v1\n"

typedef struct entry_s {
  uint64_t hash, stamp;
  char *key;
  cv_conv_algo_t algo;
  double ms;
} entry_t;

struct cv_plan_cache_s {
  pthread_mutex_t mu;
  char *path;                /* NULL: memory only */
  int n, max;
  entry_t *e;
  uint64_t clock;            /* use stamps */
  long file_lines;           /* entry lines in the file */
  bool warned;               /* a write failed once (logged) */
};

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool key_ok(const char *key) {
  size_t n = 0;
  if (!key || !key[0]) return false;
  for (; key[n]; n++)
    if ((unsigned char)key[n] <= ' ' || key[n] == 0x7f) return false;
  return n < CV_PLAN_KEY_MAX;
}

static int find(const cv_plan_cache_t *pc, const char *key, uint64_t h) {
  for (int i = 0; i < pc->n; i++)
    if (pc->e[i].hash == h && strcmp(pc->e[i].key, key) == 0) return i;
  return -1;
}

/* Inserts under the lock; no file I/O. */
static int insert(cv_plan_cache_t *pc, const char *key, cv_conv_algo_t algo, double ms) {
  uint64_t h = fnv1a(key);
  int i = find(pc, key, h);
  if (i < 0) {
    char *k = strdup(key);
    if (!k) return -CV_EOUT_OF_MEMORY;
    if (pc->n < pc->max) {
      i = pc->n++;
    } else {   /* evict the least recently used */
      i = 0;
      for (int j = 1; j < pc->n; j++)
        if (pc->e[j].stamp < pc->e[i].stamp) i = j;
      free(pc->e[i].key);
    }
    pc->e[i].key = k;
    pc->e[i].hash = h;
  }
  pc->e[i].algo = algo;
  pc->e[i].ms = ms;
  pc->e[i].stamp = ++pc->clock;
  return 0;
}

/* One line "key\talgo\tms" (newline stripped) → 0, or -1 when malformed. */
static int parse_line(char *line, char **key, cv_conv_algo_t *algo, double *ms) {
  char *t1 = strchr(line, '\t');
  if (!t1) return -1;
  char *t2 = strchr(t1 + 1, '\t');
  if (!t2 || strchr(t2 + 1, '\t')) return -1;
  *t1 = *t2 = 0;
  if (!key_ok(line) || cv_conv_algo_parse(t1 + 1, algo) != 0 || *algo == CV_CONV_ALGO_AUTO) return -1;
  char *end = NULL;
  errno = 0;
  *ms = strtod(t2 + 1, &end);
  if (errno || end == t2 + 1 || *end || !isfinite(*ms) || *ms < 0) return -1;
  *key = line;
  return 0;
}

static void load(cv_plan_cache_t *pc) {
  FILE *f = fopen(pc->path, "r");
  if (!f) return;
  char line[CV_PLAN_KEY_MAX + 128];
  bool skipping = false;   /* the rest of an over-long line */
  while (fgets(line, sizeof line, f)) {
    size_t len = strlen(line);
    bool whole = len > 0 && line[len - 1] == '\n';
    if (skipping || !whole) {
      skipping = !whole;
      if (!whole && feof(f)) break;   /* a torn last line */
      continue;
    }
    line[len - 1] = 0;
    if (line[0] == '#' || line[0] == 0) continue;
    pc->file_lines++;
    char *key;
    cv_conv_algo_t algo;
    double ms;
    if (parse_line(line, &key, &algo, &ms) == 0 && insert(pc, key, algo, ms) != 0) break;
  }
  fclose(f);
}

static int by_stamp(const void *a, const void *b) {
  const entry_t *x = *(const entry_t *const *)a, *y = *(const entry_t *const *)b;
  return (x->stamp > y->stamp) - (x->stamp < y->stamp);
}

/* Rewrites the file from memory (temp + rename), least recently used
 * first so that a smaller bound on reload keeps the newest. Under the lock. */
static int compact(cv_plan_cache_t *pc) {
  size_t n = strlen(pc->path) + 32;
  char *tmp = malloc(n);
  const entry_t **order = malloc(sizeof *order * (size_t)(pc->n + 1));
  if (!tmp || !order) {
    free(tmp);
    free(order);
    return -1;
  }
  for (int i = 0; i < pc->n; i++) order[i] = &pc->e[i];
  qsort(order, (size_t)pc->n, sizeof *order, by_stamp);
  snprintf(tmp, n, "%s.tmp.%ld", pc->path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  int rc = f ? 0 : -1;
  if (f) {
    if (fputs(HEADER, f) < 0) rc = -1;
    for (int i = 0; i < pc->n && rc == 0; i++)
      if (fprintf(f, "%s\t%s\t%.6g\n", order[i]->key, cv_conv_algo_name(order[i]->algo), order[i]->ms) < 0) rc = -1;
    if (fclose(f) != 0) rc = -1;
    if (rc == 0 && rename(tmp, pc->path) != 0) rc = -1;
    if (rc) unlink(tmp);
  }
  if (rc == 0) pc->file_lines = pc->n;
  free(tmp);
  free(order);
  return rc;
}

static void append(cv_plan_cache_t *pc, const char *key, cv_conv_algo_t algo, double ms) {
  int rc = 0;
  if (pc->file_lines + 1 > 2L * pc->max) {
    rc = compact(pc);
  } else {
    FILE *f = fopen(pc->path, "a+");
    if (!f) {
      rc = -1;
    } else {
      long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
      if (size == 0 && fputs(HEADER, f) < 0) rc = -1;
      int last = size > 0 && fseek(f, size - 1, SEEK_SET) == 0 ? fgetc(f) : '\n';
      if (fseek(f, 0, SEEK_END) != 0) rc = -1;   /* between a read and a write */
      if (last != '\n' && fputc('\n', f) == EOF) rc = -1;   /* end a torn last line */
      if (fprintf(f, "%s\t%s\t%.6g\n", key, cv_conv_algo_name(algo), ms) < 0) rc = -1;
      if (fclose(f) != 0) rc = -1;
      if (rc == 0) pc->file_lines++;
    }
  }
  if (rc && !pc->warned) {
    pc->warned = true;
    fprintf(stderr, "convoy: plan cache %s: cannot write (%s); plans kept in memory only\n", pc->path,
            strerror(errno));
  }
}

int cv_plan_cache_open(const char *path, int max_entries, cv_plan_cache_t **out) {
  *out = NULL;
  if (max_entries < 1) return -CV_EINVALID_ARGUMENT;
  cv_plan_cache_t *pc = calloc(1, sizeof *pc);
  if (!pc) return -CV_EOUT_OF_MEMORY;
  pc->max = max_entries;
  pc->e = calloc((size_t)max_entries, sizeof *pc->e);
  pc->path = path ? strdup(path) : NULL;
  if (!pc->e || (path && !pc->path) || pthread_mutex_init(&pc->mu, NULL) != 0) {
    free(pc->e);
    free(pc->path);
    free(pc);
    return -CV_EOUT_OF_MEMORY;
  }
  if (pc->path) load(pc);
  *out = pc;
  return 0;
}

void cv_plan_cache_close(cv_plan_cache_t *pc) {
  if (!pc) return;
  for (int i = 0; i < pc->n; i++) free(pc->e[i].key);
  free(pc->e);
  free(pc->path);
  pthread_mutex_destroy(&pc->mu);
  free(pc);
}

bool cv_plan_cache_get(cv_plan_cache_t *pc, const char *key, cv_conv_algo_t *algo, double *ms) {
  if (!pc || !key_ok(key)) return false;
  pthread_mutex_lock(&pc->mu);
  int i = find(pc, key, fnv1a(key));
  if (i >= 0) {
    pc->e[i].stamp = ++pc->clock;
    *algo = pc->e[i].algo;
    if (ms) *ms = pc->e[i].ms;
  }
  pthread_mutex_unlock(&pc->mu);
  return i >= 0;
}

int cv_plan_cache_put(cv_plan_cache_t *pc, const char *key, cv_conv_algo_t algo, double ms) {
  if (!pc || !key_ok(key) || (unsigned)algo >= CV_CONV_ALGO_COUNT || algo == CV_CONV_ALGO_AUTO || !isfinite(ms) ||
      ms < 0)
    return -CV_EINVALID_ARGUMENT;
  pthread_mutex_lock(&pc->mu);
  int rc = insert(pc, key, algo, ms);
  if (rc == 0 && pc->path) append(pc, key, algo, ms);
  pthread_mutex_unlock(&pc->mu);
  return rc;
}

int cv_plan_cache_count(cv_plan_cache_t *pc) {
  pthread_mutex_lock(&pc->mu);
  int n = pc->n;
  pthread_mutex_unlock(&pc->mu);
  return n;
}

int cv_plan_cache_path(const char *data_dir, const char *device, char *buf, size_t cap) {
  char name[96];
  cv_conv_sanitize_name(device, name, sizeof name);
  int len = snprintf(buf, cap, "%s/plans", data_dir);
  if (len < 0 || (size_t)len >= cap) return -CV_EINVALID_ARGUMENT;
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -CV_EINTERNAL;
  len = snprintf(buf, cap, "%s/plans/conv-%s.tsv", data_dir, name[0] ? name : "_");
  return len < 0 || (size_t)len >= cap ? -CV_EINVALID_ARGUMENT : 0;
}
