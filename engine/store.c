/* store.c — the result store: a chained hash of entries by id (live jobs,
 * stored tensors and a fixed ring of tombstones), a creation-ordered job
 * list and two LRU lists (finished results, stored tensors). One mutex;
 * job and tensor references that leave the store are dropped after it is
 * unlocked, so no free, munmap or callback ever runs under the lock. */
#include "store.h"

#include "../kernels/rand.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CV_STORE_BUCKETS_INIT 1024
#define CV_STORE_TTL_S_DEFAULT 600
#define CV_STORE_TOMBSTONES_MAX (1 << 20)
#define CV_NS_PER_S INT64_C(1000000000)

enum { KIND_JOB, KIND_TENSOR };
_Static_assert(CV_STORE_ID_MAX >= CV_JOB_ID_MAX, "job ids fit store ids");

struct cv_store_entry_s {
  cv_store_entry_t *hnext;   /* hash chain; the garbage list once detached */
  cv_store_link_t lru;       /* results_lru or tensors_lru, when counted */
  cv_store_link_t age;       /* the jobs list (jobs only) */
  char id[CV_STORE_ID_MAX];
  unsigned char kind;        /* KIND_JOB, KIND_TENSOR */
  bool tomb;                 /* a tombstone in the ring: id and kind only */
  bool finished;             /* job: recorded by cv_store_job_finished */
  cv_job_t *job;             /* one reference (jobs) */
  cv_tensor_t *tensor;       /* one reference (tensors) */
  size_t bytes;              /* counted bytes (tensors; finished jobs) */
  int64_t last_ns;           /* last use; for a tombstone, when the id went */
};

static const char *const lookup_names[] = {
#define XX(uc, lc) #lc,
    CV_STORE_LOOKUP_MAP(XX)
#undef XX
};
_Static_assert(sizeof lookup_names / sizeof lookup_names[0] == CV_STORE_LOOKUP_COUNT,
               "lookup names");

const char *cv_store_lookup_name(cv_store_lookup_t r) {
  return (unsigned)r < CV_STORE_LOOKUP_COUNT ? lookup_names[r] : "?";
}

void cv_store_config_default(cv_store_config_t *cfg) {
  cfg->max_bytes = 0;
  cfg->ttl_ns = CV_STORE_TTL_S_DEFAULT * CV_NS_PER_S;
  cfg->tombstones = CV_STORE_TOMBSTONES_DEFAULT;
  cfg->tombstone_ns = CV_STORE_TOMBSTONE_AGE_S_DEFAULT * CV_NS_PER_S;
}

/* ---- intrusive lists (sentinel heads) ---- */

#define ENTRY_OF(link, member) \
  ((cv_store_entry_t *)((char *)(link) - offsetof(cv_store_entry_t, member)))

static void list_init(cv_store_link_t *h) { h->prev = h->next = h; }
static bool list_empty(const cv_store_link_t *h) { return h->next == h; }

static void list_insert_after(cv_store_link_t *pos, cv_store_link_t *l) {
  l->prev = pos;
  l->next = pos->next;
  pos->next->prev = l;
  pos->next = l;
}

static void list_remove(cv_store_link_t *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = NULL;
}

/* ---- hash ---- */

static size_t id_hash(const char *id) {
  uint64_t h = 1469598103934665603ull;   /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 1099511628211ull;
  return (size_t)(h ^ (h >> 29));
}

static void hash_grow(cv_store_t *s) {
  size_t nb = s->n_buckets * 2;
  cv_store_entry_t **b = calloc(nb, sizeof *b);
  if (!b) return;   /* longer chains, still correct */
  for (size_t i = 0; i < s->n_buckets; i++) {
    cv_store_entry_t *e = s->buckets[i];
    while (e) {
      cv_store_entry_t *next = e->hnext;
      size_t k = id_hash(e->id) & (nb - 1);
      e->hnext = b[k];
      b[k] = e;
      e = next;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->n_buckets = nb;
}

static void hash_insert(cv_store_t *s, cv_store_entry_t *e) {
  if (s->n_hashed >= s->n_buckets) hash_grow(s);
  size_t k = id_hash(e->id) & (s->n_buckets - 1);
  e->hnext = s->buckets[k];
  s->buckets[k] = e;
  s->n_hashed++;
}

static void hash_remove(cv_store_t *s, cv_store_entry_t *e) {
  cv_store_entry_t **pp = &s->buckets[id_hash(e->id) & (s->n_buckets - 1)];
  while (*pp && *pp != e) pp = &(*pp)->hnext;
  if (*pp) {
    *pp = e->hnext;
    s->n_hashed--;
  }
  e->hnext = NULL;
}

/* The entry for id of that kind: a live one if any, else a tombstone, else NULL. */
static cv_store_entry_t *hash_find(const cv_store_t *s, const char *id, int kind) {
  cv_store_entry_t *tomb = NULL;
  for (cv_store_entry_t *e = s->buckets[id_hash(id) & (s->n_buckets - 1)]; e; e = e->hnext) {
    if (e->kind != kind || strcmp(e->id, id) != 0) continue;
    if (!e->tomb) return e;
    if (!tomb) tomb = e;
  }
  return tomb;
}

/* ---- entries leaving the store ---- */

/* Unlinks a live entry and uncounts it; the entry goes onto *garbage, whose
 * references are dropped by free_garbage once the lock is released. */
static void detach(cv_store_t *s, cv_store_entry_t *e, cv_store_entry_t **garbage) {
  hash_remove(s, e);
  if (e->kind == KIND_JOB) {
    list_remove(&e->age);
    s->c.jobs--;
    if (e->finished) {
      list_remove(&e->lru);
      s->c.results--;
      s->c.result_bytes -= e->bytes;
    }
  } else {
    list_remove(&e->lru);
    s->c.tensors--;
    s->c.tensor_bytes -= e->bytes;
  }
  e->hnext = *garbage;
  *garbage = e;
}

static void free_garbage(cv_store_entry_t *g) {
  while (g) {
    cv_store_entry_t *next = g->hnext;
    cv_job_unref(g->job);
    cv_tensor_unref(g->tensor);
    free(g);
    g = next;
  }
}

static cv_store_entry_t *tomb_oldest(cv_store_t *s) {
  int cap = s->cfg.tombstones;
  return &s->tombs[(s->tomb_head - s->n_tombs + cap) % cap];
}

static void tomb_add(cv_store_t *s, const char *id, int kind, int64_t now) {
  int cap = s->cfg.tombstones;
  if (cap == 0) return;
  cv_store_entry_t *t = &s->tombs[s->tomb_head];
  if (s->n_tombs == cap)
    hash_remove(s, t);   /* the slot at head is the oldest when the ring is full */
  else
    s->n_tombs++;
  memcpy(t->id, id, CV_STORE_ID_MAX);
  t->kind = (unsigned char)kind;
  t->tomb = true;
  t->last_ns = now;
  hash_insert(s, t);
  s->tomb_head = (s->tomb_head + 1) % cap;
}

/* Ends a live entry so that its id reads GONE (expired or evicted). */
static void make_gone(cv_store_t *s, cv_store_entry_t *e, int64_t now, cv_store_entry_t **g) {
  char id[CV_STORE_ID_MAX];
  memcpy(id, e->id, sizeof id);
  int kind = e->kind;
  detach(s, e, g);
  tomb_add(s, id, kind, now);
}

static bool is_expired(const cv_store_t *s, const cv_store_entry_t *e, int64_t now) {
  bool ages = e->kind == KIND_TENSOR || e->finished;
  return ages && now - e->last_ns >= s->cfg.ttl_ns;
}

static int sweep_locked(cv_store_t *s, int64_t now, cv_store_entry_t **g) {
  int n = 0;
  cv_store_link_t *lists[2] = {&s->results_lru, &s->tensors_lru};
  for (int i = 0; i < 2; i++)
    while (!list_empty(lists[i])) {
      cv_store_entry_t *e = ENTRY_OF(lists[i]->prev, lru);   /* least recently used */
      if (!is_expired(s, e, now)) break;
      make_gone(s, e, now, g);
      s->c.expired++;
      n++;
    }
  while (s->n_tombs > 0) {
    cv_store_entry_t *t = tomb_oldest(s);
    if (now - t->last_ns < s->cfg.tombstone_ns) break;
    hash_remove(s, t);
    s->n_tombs--;
  }
  return n;
}

static bool fits(const cv_store_t *s, size_t extra) {
  size_t max = s->cfg.max_bytes, total = s->c.result_bytes + s->c.tensor_bytes;
  return max == 0 || (total <= max && extra <= max - total);
}

/* Makes room for need more bytes: expired entries first, then LRU results.
 * Evicts nothing beyond the expired when need cannot fit even with every
 * result gone (stored tensors are never evicted). */
static bool make_room(cv_store_t *s, size_t need, int64_t now, cv_store_entry_t **g) {
  if (fits(s, need)) return true;
  sweep_locked(s, now, g);
  if (fits(s, need)) return true;
  size_t max = s->cfg.max_bytes;
  if (s->c.tensor_bytes > max || need > max - s->c.tensor_bytes) return false;
  while (!fits(s, need) && !list_empty(&s->results_lru)) {
    make_gone(s, ENTRY_OF(s->results_lru.prev, lru), now, g);
    s->c.evicted++;
  }
  return fits(s, need);
}

/* ---- lifecycle ---- */

int cv_store_init(cv_store_t *s, const cv_store_config_t *cfg) {
  memset(s, 0, sizeof *s);
  if (cfg->ttl_ns <= 0 || cfg->tombstones < 0 || cfg->tombstones > CV_STORE_TOMBSTONES_MAX ||
      cfg->tombstone_ns < 0)
    return -CV_EINVALID_ARGUMENT;
  s->cfg = *cfg;
  s->n_buckets = CV_STORE_BUCKETS_INIT;
  s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
  s->tombs = calloc(cfg->tombstones > 0 ? (size_t)cfg->tombstones : 1, sizeof *s->tombs);
  if (!s->buckets || !s->tombs) {
    free(s->buckets);
    free(s->tombs);
    memset(s, 0, sizeof *s);
    return -CV_EOUT_OF_MEMORY;
  }
  list_init(&s->jobs);
  list_init(&s->results_lru);
  list_init(&s->tensors_lru);
  pthread_mutex_init(&s->mu, NULL);
  s->inited = true;
  return 0;
}

void cv_store_close(cv_store_t *s) {
  if (!s->inited) return;
  cv_store_entry_t *g = NULL;
  pthread_mutex_lock(&s->mu);
  while (!list_empty(&s->jobs)) detach(s, ENTRY_OF(s->jobs.next, age), &g);
  while (!list_empty(&s->tensors_lru)) detach(s, ENTRY_OF(s->tensors_lru.next, lru), &g);
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  pthread_mutex_destroy(&s->mu);
  free(s->buckets);
  free(s->tombs);
  memset(s, 0, sizeof *s);
}

void cv_store_set_ttl(cv_store_t *s, int64_t ttl_ns) {
  if (ttl_ns <= 0) return;
  pthread_mutex_lock(&s->mu);
  s->cfg.ttl_ns = ttl_ns;
  pthread_mutex_unlock(&s->mu);
}

/* ---- jobs ---- */

static bool job_final(const cv_job_t *j) {
  int st = atomic_load(&((cv_job_t *)j)->state);
  return st == CV_JOB_SUCCEEDED || st == CV_JOB_FAILED || st == CV_JOB_CANCELLED;
}

/* Bytes the job's output tensors hold (any final state: they are memory). */
static size_t job_result_bytes(const cv_job_t *j) {
  size_t n = 0;
  if (j->out_t)
    for (int i = 0; i < j->outs.n_out; i++)
      if (j->out_t[i]) n += j->out_t[i]->nbytes;
  return n;
}

static int finish_locked(cv_store_t *s, cv_store_entry_t *e, int64_t now, cv_store_entry_t **g) {
  if (e->finished) return 0;
  size_t bytes = job_result_bytes(e->job);
  if (!make_room(s, bytes, now, g)) {
    make_gone(s, e, now, g);
    s->c.evicted++;
    return -CV_EINSUFFICIENT_STORAGE;
  }
  e->finished = true;
  e->bytes = bytes;
  e->last_ns = now;
  list_insert_after(&s->results_lru, &e->lru);
  s->c.results++;
  s->c.result_bytes += bytes;
  return 0;
}

int cv_store_add_job(cv_store_t *s, cv_job_t *j) {
  cv_store_entry_t *e = calloc(1, sizeof *e);
  if (!e) return -CV_EOUT_OF_MEMORY;
  snprintf(e->id, sizeof e->id, "%s", j->id);
  e->kind = KIND_JOB;
  cv_store_entry_t *g = NULL;
  pthread_mutex_lock(&s->mu);
  cv_store_entry_t *old = hash_find(s, e->id, KIND_JOB);
  if (old && !old->tomb) {
    pthread_mutex_unlock(&s->mu);
    free(e);
    return -CV_ECONFLICT;
  }
  e->job = cv_job_ref(j);
  /* newest first by created_ns: a new job almost always goes at the head */
  cv_store_link_t *pos = &s->jobs;
  while (pos->next != &s->jobs && ENTRY_OF(pos->next, age)->job->created_ns > j->created_ns)
    pos = pos->next;
  list_insert_after(pos, &e->age);
  hash_insert(s, e);
  s->c.jobs++;
  if (job_final(j)) finish_locked(s, e, cv_now_ns(), &g);   /* a failure leaves it GONE */
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  return 0;
}

/* The live entry that holds exactly j, or NULL. */
static cv_store_entry_t *find_job_entry(cv_store_t *s, const cv_job_t *j) {
  cv_store_entry_t *e = hash_find(s, j->id, KIND_JOB);
  return e && !e->tomb && e->job == j ? e : NULL;
}

void cv_store_remove_job(cv_store_t *s, cv_job_t *j) {
  cv_store_entry_t *g = NULL;
  pthread_mutex_lock(&s->mu);
  cv_store_entry_t *e = find_job_entry(s, j);
  if (e) detach(s, e, &g);
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
}

int cv_store_job_finished(cv_store_t *s, cv_job_t *j) {
  if (!job_final(j)) return -CV_ECONFLICT;
  cv_store_entry_t *g = NULL;
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  cv_store_entry_t *e = find_job_entry(s, j);
  if (e) rc = finish_locked(s, e, cv_now_ns(), &g);
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  return rc;
}

/* Resolves id to a live, unexpired entry (expiring it lazily), or says why not. */
static cv_store_lookup_t resolve(cv_store_t *s, const char *id, int kind, int64_t now,
                                 cv_store_entry_t **e_out, cv_store_entry_t **g) {
  *e_out = NULL;
  if (!id) return CV_STORE_UNKNOWN;
  cv_store_entry_t *e = hash_find(s, id, kind);
  if (!e) return CV_STORE_UNKNOWN;
  if (e->tomb) return CV_STORE_GONE;
  if (is_expired(s, e, now)) {
    make_gone(s, e, now, g);
    s->c.expired++;
    return CV_STORE_GONE;
  }
  *e_out = e;
  return CV_STORE_FOUND;
}

static void touch(cv_store_t *s, cv_store_entry_t *e, int64_t now) {
  e->last_ns = now;
  list_remove(&e->lru);
  list_insert_after(e->kind == KIND_JOB ? &s->results_lru : &s->tensors_lru, &e->lru);
}

cv_store_lookup_t cv_store_get_job(cv_store_t *s, const char *id, bool touch_it, cv_job_t **out) {
  cv_store_entry_t *g = NULL, *e;
  *out = NULL;
  pthread_mutex_lock(&s->mu);
  int64_t now = cv_now_ns();
  cv_store_lookup_t r = resolve(s, id, KIND_JOB, now, &e, &g);
  if (e) {
    if (touch_it && e->finished) touch(s, e, now);
    *out = cv_job_ref(e->job);
  }
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  return r;
}

int cv_store_drop_job(cv_store_t *s, const char *id) {
  cv_store_entry_t *g = NULL, *e;
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  cv_store_lookup_t r = resolve(s, id, KIND_JOB, cv_now_ns(), &e, &g);
  if (r == CV_STORE_UNKNOWN)
    rc = -CV_ENOT_FOUND;
  else if (r == CV_STORE_GONE)
    rc = -CV_EGONE;
  else if (!job_final(e->job))
    rc = -CV_ECONFLICT;
  else
    detach(s, e, &g);
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  return rc;
}

int cv_store_list_jobs(cv_store_t *s, const cv_job_state_t *state, int limit, cv_job_t ***out,
                       int *n, cv_error_t *err) {
  *out = NULL;
  *n = 0;
  if (limit < 1 || limit > CV_STORE_LIST_MAX)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "limit", "limit must be 1…%d, not %d",
                        CV_STORE_LIST_MAX, limit);
  if (state && (unsigned)*state >= CV_JOB_STATE_COUNT)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "state", "unknown job state");
  pthread_mutex_lock(&s->mu);
  int cap = s->c.jobs < limit ? s->c.jobs : limit;
  cv_job_t **v = cap > 0 ? malloc((size_t)cap * sizeof *v) : NULL;
  if (cap > 0 && !v) {
    pthread_mutex_unlock(&s->mu);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for the job list");
  }
  int64_t now = cv_now_ns();
  int k = 0;
  for (cv_store_link_t *l = s->jobs.next; l != &s->jobs && k < cap; l = l->next) {
    cv_store_entry_t *e = ENTRY_OF(l, age);
    if (is_expired(s, e, now)) continue;   /* the sweep ends it */
    if (state && atomic_load(&e->job->state) != (int)*state) continue;
    v[k++] = cv_job_ref(e->job);
  }
  pthread_mutex_unlock(&s->mu);
  if (k == 0) {
    free(v);
    v = NULL;
  }
  *out = v;
  *n = k;
  return 0;
}

void cv_store_list_free(cv_job_t **jobs, int n) {
  for (int i = 0; i < n; i++) cv_job_unref(jobs[i]);
  free(jobs);
}

/* ---- tensors ---- */

static void new_tensor_id(const cv_store_t *s, char id[CV_STORE_ID_MAX]) {
  do {
    uint64_t r = cv_rand_u64();
    snprintf(id, CV_STORE_ID_MAX, "t_%016llx", (unsigned long long)r);
  } while (hash_find(s, id, KIND_TENSOR) || hash_find(s, id, KIND_JOB));
}

/* Inserts a prepared tensor entry (lock held, room made). */
static void insert_tensor(cv_store_t *s, cv_store_entry_t *e, cv_tensor_t *t, int64_t now) {
  e->kind = KIND_TENSOR;
  new_tensor_id(s, e->id);
  e->tensor = cv_tensor_ref(t);
  e->bytes = t->nbytes;
  e->last_ns = now;
  hash_insert(s, e);
  list_insert_after(&s->tensors_lru, &e->lru);
  s->c.tensors++;
  s->c.tensor_bytes += e->bytes;
}

int cv_store_put_tensor(cv_store_t *s, cv_tensor_t *t, char id_out[CV_STORE_ID_MAX]) {
  cv_store_entry_t *e = calloc(1, sizeof *e), *g = NULL;
  if (!e) return -CV_EOUT_OF_MEMORY;
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  int64_t now = cv_now_ns();
  if (make_room(s, t->nbytes, now, &g)) {
    insert_tensor(s, e, t, now);
    memcpy(id_out, e->id, CV_STORE_ID_MAX);
  } else {
    rc = -CV_EINSUFFICIENT_STORAGE;
  }
  pthread_mutex_unlock(&s->mu);
  if (rc) free(e);
  free_garbage(g);
  return rc;
}

cv_store_lookup_t cv_store_get_tensor(cv_store_t *s, const char *id, cv_tensor_t **out) {
  cv_store_entry_t *g = NULL, *e;
  *out = NULL;
  pthread_mutex_lock(&s->mu);
  int64_t now = cv_now_ns();
  cv_store_lookup_t r = resolve(s, id, KIND_TENSOR, now, &e, &g);
  if (e) {
    touch(s, e, now);
    *out = cv_tensor_ref(e->tensor);
  }
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  return r;
}

int cv_store_drop_tensor(cv_store_t *s, const char *id) {
  cv_store_entry_t *g = NULL, *e;
  pthread_mutex_lock(&s->mu);
  cv_store_lookup_t r = resolve(s, id, KIND_TENSOR, cv_now_ns(), &e, &g);
  if (e) detach(s, e, &g);
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  return r == CV_STORE_FOUND ? 0 : r == CV_STORE_GONE ? -CV_EGONE : -CV_ENOT_FOUND;
}

int cv_store_keep_outputs(cv_store_t *s, cv_job_t *j, char (*ids_out)[CV_STORE_ID_MAX]) {
  int n = j->outs.n_out;
  if (atomic_load(&j->state) != CV_JOB_SUCCEEDED || n <= 0 || !j->out_t) return -CV_ECONFLICT;
  size_t need = 0;
  for (int i = 0; i < n; i++) {
    if (!j->out_t[i]) return -CV_ECONFLICT;
    if (j->out_t[i]->nbytes > SIZE_MAX - need) return -CV_EINSUFFICIENT_STORAGE;
    need += j->out_t[i]->nbytes;
  }
  cv_store_entry_t **es = calloc((size_t)n, sizeof *es), *g = NULL;
  if (!es) return -CV_EOUT_OF_MEMORY;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++)
    if (!(es[i] = calloc(1, sizeof *es[i]))) rc = -CV_EOUT_OF_MEMORY;
  if (!rc) {
    pthread_mutex_lock(&s->mu);
    int64_t now = cv_now_ns();
    if (make_room(s, need, now, &g)) {
      for (int i = 0; i < n; i++) {
        insert_tensor(s, es[i], j->out_t[i], now);
        memcpy(ids_out[i], es[i]->id, CV_STORE_ID_MAX);
        es[i] = NULL;   /* owned by the store now */
      }
    } else {
      rc = -CV_EINSUFFICIENT_STORAGE;
    }
    pthread_mutex_unlock(&s->mu);
  }
  for (int i = 0; i < n; i++) free(es[i]);
  free(es);
  free_garbage(g);
  return rc;
}

/* ---- upkeep ---- */

int cv_store_sweep(cv_store_t *s, int64_t now_ns) {
  cv_store_entry_t *g = NULL;
  pthread_mutex_lock(&s->mu);
  int n = sweep_locked(s, now_ns, &g);
  pthread_mutex_unlock(&s->mu);
  free_garbage(g);
  return n;
}

size_t cv_store_bytes(cv_store_t *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->c.result_bytes + s->c.tensor_bytes;
  pthread_mutex_unlock(&s->mu);
  return n;
}

void cv_store_counts(cv_store_t *s, cv_store_counts_t *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->c;
  out->tombstones = s->n_tombs;
  pthread_mutex_unlock(&s->mu);
}
