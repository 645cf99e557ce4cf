/* store.h — the result store: every accepted job by id (status while queued or
 * running, result once finished) and stored tensors (uploads, `keep`), under
 * one byte cap (result_store_bytes) and one TTL since last use (result_ttl_s).
 * Owns one reference to each job and tensor it holds. Thread-safe (one mutex):
 * MHD threads look up, the done path records finished jobs, the loop sweeps. */
#ifndef CV_STORE_H
#define CV_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "tensor.h"

#define CV_STORE_ID_MAX 24                      /* "j_…"/"t_…" + 16 hex digits + NUL */
#define CV_STORE_TOMBSTONES_DEFAULT 4096        /* expired ids remembered (410 vs 404) */
#define CV_STORE_TOMBSTONE_AGE_S_DEFAULT 3600   /* … for at most this long */
#define CV_STORE_LIST_MAX 1000                  /* GET /v1/jobs limit, 1…1000 */

/* Lookup outcome: FOUND → 200, GONE → 410 (expired or evicted), UNKNOWN → 404. */
#define CV_STORE_LOOKUP_MAP(XX) XX(FOUND, found) XX(GONE, gone) XX(UNKNOWN, unknown)
typedef enum {
#define XX(uc, lc) CV_STORE_##uc,
  CV_STORE_LOOKUP_MAP(XX)
#undef XX
  CV_STORE_LOOKUP_COUNT
} cv_store_lookup_t;

const char *cv_store_lookup_name(cv_store_lookup_t r);

typedef struct cv_store_config_s {
  size_t max_bytes;        /* result_store_bytes; 0 = no cap */
  int64_t ttl_ns;          /* result_ttl_s in ns, since last use; > 0 */
  int tombstones;          /* how many expired/evicted ids read as GONE (>= 0) */
  int64_t tombstone_ns;    /* … and for how long after they went */
} cv_store_config_t;

/* result_store_bytes 0 (no cap), TTL 600 s, 4096 tombstones for 1 h. */
void cv_store_config_default(cv_store_config_t *cfg);

typedef struct cv_store_counts_s {
  int jobs;                /* registered jobs (any state) */
  int results;             /* of them: finished and recorded (cv_store_job_finished) */
  int tensors;             /* stored tensors */
  int tombstones;          /* remembered expired/evicted ids */
  size_t result_bytes;     /* bytes of finished jobs' outputs */
  size_t tensor_bytes;     /* bytes of stored tensors */
  uint64_t expired;        /* entries ended by TTL, since init */
  uint64_t evicted;        /* results dropped to make room (LRU), since init */
} cv_store_counts_t;

typedef struct cv_store_link_s {
  struct cv_store_link_s *prev, *next;
} cv_store_link_t;

typedef struct cv_store_entry_s cv_store_entry_t;

typedef struct cv_store_s {
  bool inited;
  pthread_mutex_t mu;            /* guards everything below */
  cv_store_config_t cfg;
  cv_store_entry_t **buckets;    /* chained hash of live entries and tombstones */
  size_t n_buckets, n_hashed;
  cv_store_link_t jobs;          /* every job, newest (created_ns) first */
  cv_store_link_t results_lru;   /* finished jobs, most recently used first */
  cv_store_link_t tensors_lru;   /* stored tensors, most recently used first */
  cv_store_entry_t *tombs;       /* ring of cfg.tombstones slots, oldest at tomb_head - n_tombs */
  int tomb_head, n_tombs;
  cv_store_counts_t c;
} cv_store_t;

/* ---- lifecycle ---- */

/* 0, -CV_EINVALID_ARGUMENT (bad config), -CV_EOUT_OF_MEMORY. */
int cv_store_init(cv_store_t *s, const cv_store_config_t *cfg);
/* Releases every job and tensor reference. Safe twice and after a failed init. */
void cv_store_close(cv_store_t *s);
/* SIGHUP: a new TTL applies to every entry from now on (ttl_ns > 0). */
void cv_store_set_ttl(cv_store_t *s, int64_t ttl_ns);

/* ---- jobs ----
 * Lifecycle: cv_store_add_job before cv_engine_submit (so the id resolves at
 * once); cv_store_remove_job if the submit fails; cv_store_job_finished from
 * the job's done path. A queued/running job never expires and is never
 * evicted: its bytes are the engine's in-flight bytes, not the store's. From
 * cv_store_job_finished on, the bytes its out_t tensors hold count here (in
 * any final state: they are held memory), and it expires ttl after its last
 * use. An expired or evicted job is gone as a whole: its id reads GONE
 * (status and result alike) while it is among the last cfg.tombstones such
 * ids and younger than cfg.tombstone_ns, then UNKNOWN. */

/* Registers j (the store takes its own reference). A job already in a final
 * state is recorded as finished at once. 0, -CV_ECONFLICT (id present),
 * -CV_EOUT_OF_MEMORY. */
int cv_store_add_job(cv_store_t *s, cv_job_t *j);
/* Forgets j without a tombstone (a submit that failed). No-op when absent. */
void cv_store_remove_job(cv_store_t *s, cv_job_t *j);
/* j reached a final state: its output bytes start to count and its TTL to
 * run. To make room it evicts expired entries, then least-recently-used
 * results of other jobs — never stored tensors. If the result cannot fit
 * even then, j itself is dropped (its id reads GONE; whoever holds a
 * reference, e.g. a waiting sync request, still has the outputs) and
 * -CV_EINSUFFICIENT_STORAGE is returned. Idempotent; 0 when j is unknown
 * (removed or dropped meanwhile). Takes no job lock, calls no callback. */
int cv_store_job_finished(cv_store_t *s, cv_job_t *j);
/* Looks up a job by id. FOUND: *out is a new reference (caller unrefs);
 * else *out = NULL. touch = true (a result fetch, a status poll) moves a
 * finished job's expiry to now + ttl; listing never touches. */
cv_store_lookup_t cv_store_get_job(cv_store_t *s, const char *id, bool touch, cv_job_t **out);
/* DELETE of a job: a finished one (final state) is dropped, no tombstone —
 * later lookups are UNKNOWN. 0; -CV_ECONFLICT when queued/running (cancel it
 * through the engine instead); -CV_EGONE; -CV_ENOT_FOUND. */
int cv_store_drop_job(cv_store_t *s, const char *id);
/* Jobs newest first (by created_ns), only those in *state when state is not
 * NULL, at most limit (1…CV_STORE_LIST_MAX, else -CV_EINVALID_ARGUMENT with
 * field "limit"). *out is a malloc'ed array of *n new references (NULL when
 * *n is 0); free it with cv_store_list_free. */
int cv_store_list_jobs(cv_store_t *s, const cv_job_state_t *state, int limit, cv_job_t ***out,
                       int *n, cv_error_t *err);
void cv_store_list_free(cv_job_t **jobs, int n);

/* ---- tensors ---- */

/* Stores t (the store takes its own reference) under a new id "t_" + 16 hex
 * digits (getentropy), written to id_out[CV_STORE_ID_MAX]. Counts t->nbytes.
 * Room is made as for job results (expired entries, then LRU results; never
 * other tensors). 0, -CV_EINSUFFICIENT_STORAGE (would not fit; nothing is
 * evicted then), -CV_EOUT_OF_MEMORY. */
int cv_store_put_tensor(cv_store_t *s, cv_tensor_t *t, char id_out[CV_STORE_ID_MAX]);
/* FOUND: *out is a new reference (caller unrefs) and the tensor's expiry
 * moves to now + ttl; else *out = NULL. */
cv_store_lookup_t cv_store_get_tensor(cv_store_t *s, const char *id, cv_tensor_t **out);
/* DELETE: 0 (later lookups UNKNOWN), -CV_EGONE, -CV_ENOT_FOUND. */
int cv_store_drop_tensor(cv_store_t *s, const char *id);
/* `keep`: stores each of a succeeded job's outputs as a tensor (sharing the
 * refcounted cv_tensor_t; each stored entry counts its bytes once, on top of
 * the job's own result bytes while that lives) and writes their ids to
 * ids_out[0 … j->outs.n_out-1]. All or nothing: 0, -CV_ECONFLICT (j did not
 * succeed or has no outputs), -CV_EINSUFFICIENT_STORAGE, -CV_EOUT_OF_MEMORY.
 * The job's own state is not changed. */
int cv_store_keep_outputs(cv_store_t *s, cv_job_t *j, char (*ids_out)[CV_STORE_ID_MAX]);

/* ---- upkeep and gauges ---- */

/* Expires entries unused for ttl and tombstones older than tombstone_ns, as
 * of now_ns (CLOCK_MONOTONIC, cv_now_ns()). Returns how many entries expired.
 * The server calls it from a 1 s libuv timer; lookups also expire lazily. */
int cv_store_sweep(cv_store_t *s, int64_t now_ns);
size_t cv_store_bytes(cv_store_t *s);   /* result + tensor bytes */
void cv_store_counts(cv_store_t *s, cv_store_counts_t *out);

#endif
