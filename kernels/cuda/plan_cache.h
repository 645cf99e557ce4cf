/* plan_cache.h — the conv plan cache: batch key → the fastest measured
 * algorithm (and its time), bounded (least recently used goes first), kept
 * in memory and persisted as a small text file so a restart does not time
 * again. Plain C (no CUDA): unit-tested on the CPU. Thread-safe: one mutex;
 * the device worker reads and writes, tests hammer it from many threads.
 *
 * File format (UTF-8 text, one entry a line, later lines win):
 *   # convoy conv plans v1
 *   <key>\t<algo name>\t<milliseconds>\n
 * Lines that do not parse (wrong field count, unknown algo, "auto", bad or
 * negative time, key with spaces or control characters, over-long) are
 * ignored. New entries are appended; when the file holds more than twice
 * the bound it is rewritten (temp file + rename) with what memory holds. */
#ifndef CV_CUDA_PLAN_CACHE_H
#define CV_CUDA_PLAN_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "../ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_PLAN_KEY_MAX 512          /* bytes of a key, NUL included */
#define CV_PLAN_CACHE_DEFAULT 4096   /* entries */

typedef struct cv_plan_cache_s cv_plan_cache_t;

/* Opens a cache of at most max_entries (>= 1). path NULL: memory only.
 * A missing file is fine; a corrupt one loses only its bad lines. 0, or
 * -CV_EOUT_OF_MEMORY / -CV_EINVALID_ARGUMENT. */
int cv_plan_cache_open(const char *path, int max_entries, cv_plan_cache_t **out);
void cv_plan_cache_close(cv_plan_cache_t *pc);

/* true and *algo (and *ms when not NULL) when key is cached. */
bool cv_plan_cache_get(cv_plan_cache_t *pc, const char *key, cv_conv_algo_t *algo, double *ms);

/* Inserts or replaces key, evicting the least recently used entry when
 * full, and appends it to the file (a failed write is logged once, not an
 * error: the cache is advisory). 0, or -CV_EINVALID_ARGUMENT (bad key,
 * auto, bad time) or -CV_EOUT_OF_MEMORY. */
int cv_plan_cache_put(cv_plan_cache_t *pc, const char *key, cv_conv_algo_t algo, double ms);

int cv_plan_cache_count(cv_plan_cache_t *pc);

/* data_dir/plans/conv-<device name, sanitised>.tsv; creates data_dir/plans
 * when missing. 0, or -CV_EINVALID_ARGUMENT (too long) / -CV_EINTERNAL
 * (the folder cannot be made). */
int cv_plan_cache_path(const char *data_dir, const char *device, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
