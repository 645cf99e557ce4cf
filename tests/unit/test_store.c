/* test_store.c — the result store: job registration and lookup (FOUND, GONE,
 * UNKNOWN), TTL since last use, LRU eviction of results under the byte cap,
 * stored tensors (507 when full, never evicted), keep, listing, bounded
 * tombstones, and a 4-thread hammer of puts/gets/drops/sweeps/jobs. */
#include <pthread.h>
#include <unistd.h>

#include "../../engine/store.h"
#include "runner.h"

#define HOUR_NS (3600 * INT64_C(1000000000))

/* A haar dwt job on an n-sample float64 signal (outputs a, d1_d: 8n bytes). */
static cv_job_t *haar_job(int64_t n) {
  cv_op_params_t p;
  cv_op_params_default(&p, CV_OP_DWT);
  p.u.dwt.n_wavelets = 1;
  cv_wavelet_from_info(&p.u.dwt.wavelets[0], cv_wavelet_find("haar"));
  p.u.dwt.level = 1;
  cv_tensor_t *t;
  cv_error_t e;
  CV_ASSERT_OK(cv_tensor_new(&t, CV_DTYPE_F64, 1, &n, 0, true, &e));
  const char *names[1] = {"x"};
  cv_job_t *j = NULL;
  CV_ASSERT_OK(cv_job_create(&j, &p, 1, names, &t, &e));
  cv_tensor_unref(t);
  return j;
}

/* Ends j as the engine does: allocates its outputs, then finishes it. */
static void run_job(cv_job_t *j, cv_job_state_t st) {
  cv_error_t e;
  j->out_t = calloc((size_t)j->outs.n_out, sizeof *j->out_t);
  CV_ASSERT(j->out_t);
  for (int k = 0; k < j->outs.n_out; k++) {
    const cv_array_t *a = &j->outs.out[k].a;
    CV_ASSERT_OK(cv_tensor_new(&j->out_t[k], a->dtype, a->ndim, a->shape, 0, true, &e));
  }
  cv_error_set(&e, CV_EINTERNAL, NULL, "test failure");
  CV_ASSERT(cv_job_finish(j, st, st == CV_JOB_SUCCEEDED ? NULL : &e));
}

static cv_tensor_t *f64_tensor(int64_t n) {
  cv_tensor_t *t;
  cv_error_t e;
  CV_ASSERT_OK(cv_tensor_new(&t, CV_DTYPE_F64, 1, &n, 0, true, &e));
  return t;
}

static void store_open(cv_store_t *s, size_t max_bytes, int64_t ttl_ns, int tombs) {
  cv_store_config_t cfg;
  cv_store_config_default(&cfg);
  cfg.max_bytes = max_bytes;
  cfg.ttl_ns = ttl_ns;
  cfg.tombstones = tombs;
  CV_ASSERT_OK(cv_store_init(s, &cfg));
}

static cv_store_lookup_t job_state(cv_store_t *s, const char *id) {
  cv_job_t *j = NULL;
  cv_store_lookup_t r = cv_store_get_job(s, id, false, &j);
  CV_ASSERT((r == CV_STORE_FOUND) == (j != NULL));
  cv_job_unref(j);
  return r;
}

static void test_job_lifecycle(void) {
  cv_store_t s;
  store_open(&s, 0, HOUR_NS, 16);
  cv_job_t *j = haar_job(64), *got = NULL;
  CV_ASSERT_OK(cv_store_add_job(&s, j));
  CV_ASSERT_EQ(cv_store_add_job(&s, j), -CV_ECONFLICT);
  CV_ASSERT_EQ(cv_store_get_job(&s, j->id, true, &got), CV_STORE_FOUND);
  CV_ASSERT(got == j);
  CV_ASSERT_EQ(atomic_load(&j->refs), 3);   /* ours, the store's, got */
  cv_job_unref(got);
  CV_ASSERT_EQ(job_state(&s, "j_0000000000000000"), CV_STORE_UNKNOWN);
  CV_ASSERT_EQ(job_state(&s, ""), CV_STORE_UNKNOWN);
  CV_ASSERT_EQ(cv_store_get_job(&s, NULL, false, &got), CV_STORE_UNKNOWN);
  /* a queued job never expires and counts no bytes here */
  CV_ASSERT_EQ(cv_store_sweep(&s, cv_now_ns() + 10 * HOUR_NS), 0);
  CV_ASSERT_EQ(job_state(&s, j->id), CV_STORE_FOUND);
  CV_ASSERT_EQ(cv_store_bytes(&s), 0);
  CV_ASSERT_EQ(cv_store_job_finished(&s, j), -CV_ECONFLICT);   /* not final yet */
  run_job(j, CV_JOB_SUCCEEDED);
  CV_ASSERT_OK(cv_store_job_finished(&s, j));
  CV_ASSERT_OK(cv_store_job_finished(&s, j));   /* idempotent */
  CV_ASSERT_EQ(cv_store_bytes(&s), 64 * 8);
  cv_store_counts_t c;
  cv_store_counts(&s, &c);
  CV_ASSERT_EQ(c.jobs, 1);
  CV_ASSERT_EQ(c.results, 1);
  CV_ASSERT_EQ(c.result_bytes, 512);
  /* expiry: GONE (410) for status and result, the store's reference dropped */
  CV_ASSERT_EQ(cv_store_sweep(&s, cv_now_ns() + 2 * HOUR_NS), 1);
  CV_ASSERT_EQ(atomic_load(&j->refs), 1);
  CV_ASSERT_EQ(job_state(&s, j->id), CV_STORE_GONE);
  CV_ASSERT_EQ(cv_store_drop_job(&s, j->id), -CV_EGONE);
  cv_store_counts(&s, &c);
  CV_ASSERT_EQ(c.jobs, 0);
  CV_ASSERT_EQ(c.expired, 1);
  CV_ASSERT_EQ(c.tombstones, 1);
  CV_ASSERT_EQ(cv_store_bytes(&s), 0);
  CV_ASSERT_OK(cv_store_job_finished(&s, j));   /* unknown now: no-op */
  cv_store_close(&s);
  cv_store_close(&s);
  cv_job_unref(j);
}

static void test_drop_and_remove(void) {
  cv_store_t s;
  store_open(&s, 0, HOUR_NS, 16);
  cv_job_t *a = haar_job(16), *b = haar_job(16);
  CV_ASSERT_OK(cv_store_add_job(&s, a));
  CV_ASSERT_OK(cv_store_add_job(&s, b));
  CV_ASSERT_EQ(cv_store_drop_job(&s, a->id), -CV_ECONFLICT);   /* queued: cancel instead */
  run_job(a, CV_JOB_FAILED);
  /* final but not yet recorded: DELETE still drops it */
  CV_ASSERT_OK(cv_store_drop_job(&s, a->id));
  CV_ASSERT_EQ(job_state(&s, a->id), CV_STORE_UNKNOWN);   /* 404, not 410 */
  CV_ASSERT_EQ(cv_store_drop_job(&s, a->id), -CV_ENOT_FOUND);
  CV_ASSERT_OK(cv_store_job_finished(&s, a));
  CV_ASSERT_EQ(cv_store_bytes(&s), 0);
  /* a failed submit: forgotten without a tombstone */
  cv_store_remove_job(&s, b);
  cv_store_remove_job(&s, b);
  CV_ASSERT_EQ(job_state(&s, b->id), CV_STORE_UNKNOWN);
  cv_store_counts_t c;
  cv_store_counts(&s, &c);
  CV_ASSERT_EQ(c.jobs, 0);
  CV_ASSERT_EQ(c.tombstones, 0);
  CV_ASSERT_EQ(atomic_load(&a->refs), 1);
  CV_ASSERT_EQ(atomic_load(&b->refs), 1);
  /* a job that is already final when added is recorded at once */
  run_job(b, CV_JOB_SUCCEEDED);
  CV_ASSERT_OK(cv_store_add_job(&s, b));
  CV_ASSERT_EQ(cv_store_bytes(&s), 16 * 8);
  cv_store_close(&s);
  CV_ASSERT_EQ(atomic_load(&b->refs), 1);
  cv_job_unref(a);
  cv_job_unref(b);
}

/* A result fetch (touch) moves the expiry; an untouched result expires. */
static void test_ttl_touch(void) {
  cv_store_t s;
  store_open(&s, 0, HOUR_NS, 16);
  cv_job_t *a = haar_job(16), *b = haar_job(16), *got;
  CV_ASSERT_OK(cv_store_add_job(&s, a));
  CV_ASSERT_OK(cv_store_add_job(&s, b));
  run_job(a, CV_JOB_SUCCEEDED);
  run_job(b, CV_JOB_SUCCEEDED);
  CV_ASSERT_OK(cv_store_job_finished(&s, a));
  CV_ASSERT_OK(cv_store_job_finished(&s, b));
  int64_t t_finished = cv_now_ns();
  usleep(20000);
  CV_ASSERT_EQ(cv_store_get_job(&s, a->id, true, &got), CV_STORE_FOUND);
  cv_job_unref(got);
  CV_ASSERT_EQ(cv_store_get_job(&s, b->id, false, &got), CV_STORE_FOUND);   /* no touch */
  cv_job_unref(got);
  /* b's last use is before t_finished, a's after it */
  CV_ASSERT_EQ(cv_store_sweep(&s, t_finished + HOUR_NS), 1);
  CV_ASSERT_EQ(job_state(&s, a->id), CV_STORE_FOUND);
  CV_ASSERT_EQ(job_state(&s, b->id), CV_STORE_GONE);
  /* lazily: a lookup past the TTL reads GONE even before a sweep */
  cv_store_set_ttl(&s, 1000000);   /* 1 ms */
  usleep(5000);
  CV_ASSERT_EQ(job_state(&s, a->id), CV_STORE_GONE);
  cv_store_close(&s);
  cv_job_unref(a);
  cv_job_unref(b);
}

static void test_lru_eviction(void) {
  cv_store_t s;
  store_open(&s, 3 * 512, HOUR_NS, 16);
  cv_job_t *j[4];
  for (int i = 0; i < 4; i++) {
    j[i] = haar_job(64);   /* 512 result bytes */
    CV_ASSERT_OK(cv_store_add_job(&s, j[i]));
  }
  for (int i = 0; i < 3; i++) {
    run_job(j[i], CV_JOB_SUCCEEDED);
    CV_ASSERT_OK(cv_store_job_finished(&s, j[i]));
  }
  CV_ASSERT_EQ(cv_store_bytes(&s), 1536);
  cv_job_t *got;
  CV_ASSERT_EQ(cv_store_get_job(&s, j[0]->id, true, &got), CV_STORE_FOUND);   /* j0 recent */
  cv_job_unref(got);
  run_job(j[3], CV_JOB_SUCCEEDED);
  CV_ASSERT_OK(cv_store_job_finished(&s, j[3]));
  CV_ASSERT_EQ(job_state(&s, j[1]->id), CV_STORE_GONE);   /* the least recently used */
  CV_ASSERT_EQ(job_state(&s, j[0]->id), CV_STORE_FOUND);
  CV_ASSERT_EQ(job_state(&s, j[2]->id), CV_STORE_FOUND);
  CV_ASSERT_EQ(job_state(&s, j[3]->id), CV_STORE_FOUND);
  cv_store_counts_t c;
  cv_store_counts(&s, &c);
  CV_ASSERT_EQ(c.evicted, 1);
  CV_ASSERT_EQ(c.result_bytes, 1536);
  /* a result larger than the whole cap drops itself: 507 and GONE */
  cv_job_t *big = haar_job(512);
  CV_ASSERT_OK(cv_store_add_job(&s, big));
  run_job(big, CV_JOB_SUCCEEDED);
  CV_ASSERT_EQ(cv_store_job_finished(&s, big), -CV_EINSUFFICIENT_STORAGE);
  CV_ASSERT_EQ(job_state(&s, big->id), CV_STORE_GONE);
  CV_ASSERT_EQ(cv_store_bytes(&s), 1536);   /* nobody else was evicted for it */
  cv_store_close(&s);
  for (int i = 0; i < 4; i++) {
    CV_ASSERT_EQ(atomic_load(&j[i]->refs), 1);
    cv_job_unref(j[i]);
  }
  cv_job_unref(big);
}

static void test_tensors(void) {
  cv_store_t s;
  store_open(&s, 0, HOUR_NS, 16);
  cv_tensor_t *t = f64_tensor(10), *got;
  char id[CV_STORE_ID_MAX], id2[CV_STORE_ID_MAX];
  CV_ASSERT_OK(cv_store_put_tensor(&s, t, id));
  CV_ASSERT_OK(cv_store_put_tensor(&s, t, id2));   /* the same tensor twice: two entries */
  CV_ASSERT_EQ(strlen(id), 18);
  CV_ASSERT(strncmp(id, "t_", 2) == 0);
  CV_ASSERT_EQ(strspn(id + 2, "0123456789abcdef"), 16);
  CV_ASSERT(strcmp(id, id2) != 0);
  CV_ASSERT_EQ(cv_store_bytes(&s), 160);
  CV_ASSERT_EQ(atomic_load(&t->refs), 3);
  CV_ASSERT_EQ(cv_store_get_tensor(&s, id, &got), CV_STORE_FOUND);
  CV_ASSERT(got == t);
  cv_tensor_unref(got);
  cv_job_t *j;
  CV_ASSERT_EQ(cv_store_get_job(&s, id, false, &j), CV_STORE_UNKNOWN);   /* kinds apart */
  CV_ASSERT(j == NULL);
  CV_ASSERT_OK(cv_store_drop_tensor(&s, id));
  CV_ASSERT_EQ(cv_store_get_tensor(&s, id, &got), CV_STORE_UNKNOWN);
  CV_ASSERT(got == NULL);
  CV_ASSERT_EQ(cv_store_drop_tensor(&s, id), -CV_ENOT_FOUND);
  CV_ASSERT_EQ(cv_store_sweep(&s, cv_now_ns() + 2 * HOUR_NS), 1);
  CV_ASSERT_EQ(cv_store_get_tensor(&s, id2, &got), CV_STORE_GONE);
  CV_ASSERT_EQ(cv_store_drop_tensor(&s, id2), -CV_EGONE);
  CV_ASSERT_EQ(atomic_load(&t->refs), 1);
  CV_ASSERT_EQ(cv_store_bytes(&s), 0);
  cv_store_close(&s);
  cv_tensor_unref(t);
}

/* Tensors evict results (LRU), never other tensors; no fit → 507. */
static void test_tensor_cap(void) {
  cv_store_t s;
  store_open(&s, 1024, HOUR_NS, 16);
  cv_job_t *a = haar_job(64), *c = haar_job(16), *b = haar_job(64);
  CV_ASSERT_OK(cv_store_add_job(&s, a));
  run_job(a, CV_JOB_SUCCEEDED);
  CV_ASSERT_OK(cv_store_job_finished(&s, a));   /* 512 */
  cv_tensor_t *t256 = f64_tensor(32), *t512 = f64_tensor(64);
  char id1[CV_STORE_ID_MAX], id2[CV_STORE_ID_MAX], id3[CV_STORE_ID_MAX];
  CV_ASSERT_OK(cv_store_put_tensor(&s, t256, id1));   /* 768 */
  CV_ASSERT_OK(cv_store_put_tensor(&s, t512, id2));   /* evicts a: 768 */
  CV_ASSERT_EQ(job_state(&s, a->id), CV_STORE_GONE);
  CV_ASSERT_EQ(cv_store_bytes(&s), 768);
  CV_ASSERT_OK(cv_store_add_job(&s, c));
  run_job(c, CV_JOB_SUCCEEDED);
  CV_ASSERT_OK(cv_store_job_finished(&s, c));   /* 128: 896 */
  /* 768 tensor bytes + 512 > 1024: refused without evicting c */
  CV_ASSERT_EQ(cv_store_put_tensor(&s, t512, id3), -CV_EINSUFFICIENT_STORAGE);
  CV_ASSERT_EQ(job_state(&s, c->id), CV_STORE_FOUND);
  CV_ASSERT_EQ(cv_store_bytes(&s), 896);
  /* a result that only fits without the tensors drops itself */
  CV_ASSERT_OK(cv_store_add_job(&s, b));
  run_job(b, CV_JOB_SUCCEEDED);
  CV_ASSERT_EQ(cv_store_job_finished(&s, b), -CV_EINSUFFICIENT_STORAGE);
  CV_ASSERT_EQ(job_state(&s, b->id), CV_STORE_GONE);
  CV_ASSERT_EQ(job_state(&s, c->id), CV_STORE_FOUND);
  cv_tensor_t *got;
  CV_ASSERT_EQ(cv_store_get_tensor(&s, id1, &got), CV_STORE_FOUND);
  cv_tensor_unref(got);
  /* dropping a tensor frees room */
  CV_ASSERT_OK(cv_store_drop_tensor(&s, id2));
  CV_ASSERT_OK(cv_store_put_tensor(&s, t512, id3));
  cv_store_close(&s);
  CV_ASSERT_EQ(atomic_load(&t512->refs), 1);
  cv_tensor_unref(t256);
  cv_tensor_unref(t512);
  cv_job_unref(a);
  cv_job_unref(b);
  cv_job_unref(c);
}

static void test_keep_outputs(void) {
  cv_store_t s;
  store_open(&s, 2048, HOUR_NS, 16);
  cv_job_t *j = haar_job(64);   /* outputs a, d1_d: 256 bytes each */
  char ids[2][CV_STORE_ID_MAX];
  CV_ASSERT_OK(cv_store_add_job(&s, j));
  CV_ASSERT_EQ(cv_store_keep_outputs(&s, j, ids), -CV_ECONFLICT);   /* not succeeded */
  run_job(j, CV_JOB_SUCCEEDED);
  CV_ASSERT_OK(cv_store_job_finished(&s, j));
  CV_ASSERT_EQ(j->outs.n_out, 2);
  CV_ASSERT_OK(cv_store_keep_outputs(&s, j, ids));
  for (int k = 0; k < 2; k++) {
    cv_tensor_t *got;
    CV_ASSERT_EQ(cv_store_get_tensor(&s, ids[k], &got), CV_STORE_FOUND);
    CV_ASSERT(got == j->out_t[k]);   /* shared, not copied */
    cv_tensor_unref(got);
  }
  CV_ASSERT(strcmp(ids[0], ids[1]) != 0);
  CV_ASSERT_EQ(cv_store_bytes(&s), 1024);   /* result 512 + kept 2 × 256 */
  /* dropping the job leaves the kept tensors */
  CV_ASSERT_OK(cv_store_drop_job(&s, j->id));
  CV_ASSERT_EQ(cv_store_bytes(&s), 512);
  CV_ASSERT_OK(cv_store_keep_outputs(&s, j, ids));   /* 1024 */
  CV_ASSERT_OK(cv_store_keep_outputs(&s, j, ids));   /* 1536 */
  CV_ASSERT_OK(cv_store_keep_outputs(&s, j, ids));   /* 2048 */
  /* all or nothing: no room for two more */
  CV_ASSERT_EQ(cv_store_keep_outputs(&s, j, ids), -CV_EINSUFFICIENT_STORAGE);
  cv_store_counts_t c;
  cv_store_counts(&s, &c);
  CV_ASSERT_EQ(c.tensors, 8);
  CV_ASSERT_EQ(c.tensor_bytes, 2048);
  cv_store_close(&s);
  CV_ASSERT_EQ(atomic_load(&j->out_t[0]->refs), 1);
  cv_job_unref(j);
}

static void test_list_jobs(void) {
  cv_store_t s;
  store_open(&s, 0, HOUR_NS, 16);
  cv_job_t *j[5];
  for (int i = 0; i < 5; i++) {
    j[i] = haar_job(16);
    j[i]->created_ns = 1000 + i;   /* j4 newest */
  }
  int order[5] = {0, 1, 3, 4, 2};   /* registration out of creation order */
  for (int i = 0; i < 5; i++) CV_ASSERT_OK(cv_store_add_job(&s, j[order[i]]));
  run_job(j[1], CV_JOB_SUCCEEDED);
  run_job(j[3], CV_JOB_SUCCEEDED);
  run_job(j[2], CV_JOB_CANCELLED);
  cv_job_t **v;
  int n;
  cv_error_t e;
  CV_ASSERT_OK(cv_store_list_jobs(&s, NULL, 3, &v, &n, &e));
  CV_ASSERT_EQ(n, 3);
  CV_ASSERT(v[0] == j[4] && v[1] == j[3] && v[2] == j[2]);
  cv_store_list_free(v, n);
  cv_job_state_t st = CV_JOB_SUCCEEDED;
  CV_ASSERT_OK(cv_store_list_jobs(&s, &st, 1000, &v, &n, &e));
  CV_ASSERT_EQ(n, 2);
  CV_ASSERT(v[0] == j[3] && v[1] == j[1]);
  cv_store_list_free(v, n);
  st = CV_JOB_RUNNING;
  CV_ASSERT_OK(cv_store_list_jobs(&s, &st, 10, &v, &n, &e));
  CV_ASSERT_EQ(n, 0);
  CV_ASSERT(v == NULL);
  CV_ASSERT_EQ(cv_store_list_jobs(&s, NULL, 0, &v, &n, &e), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(e.field, "limit");
  CV_ASSERT_EQ(cv_store_list_jobs(&s, NULL, 1001, &v, &n, &e), -CV_EINVALID_ARGUMENT);
  /* listing skips expired jobs and takes no references it keeps */
  CV_ASSERT_OK(cv_store_job_finished(&s, j[1]));
  cv_store_set_ttl(&s, 1000000);
  usleep(5000);
  CV_ASSERT_OK(cv_store_list_jobs(&s, NULL, 10, &v, &n, &e));
  CV_ASSERT_EQ(n, 4);
  for (int i = 0; i < n; i++) CV_ASSERT(v[i] != j[1]);
  cv_store_list_free(v, n);
  cv_store_close(&s);
  for (int i = 0; i < 5; i++) {
    CV_ASSERT_EQ(atomic_load(&j[i]->refs), 1);
    cv_job_unref(j[i]);
  }
}

/* Only the last `tombstones` gone ids read GONE, and only for tombstone_ns. */
static void test_tombstones(void) {
  cv_store_t s;
  cv_store_config_t cfg;
  cv_store_config_default(&cfg);
  cfg.ttl_ns = HOUR_NS;
  cfg.tombstones = 2;
  cfg.tombstone_ns = 1000;
  CV_ASSERT_OK(cv_store_init(&s, &cfg));
  cv_tensor_t *t = f64_tensor(1);
  char ids[3][CV_STORE_ID_MAX];
  cv_tensor_t *got;
  int64_t when = cv_now_ns() + 2 * HOUR_NS;
  for (int i = 0; i < 3; i++) {
    CV_ASSERT_OK(cv_store_put_tensor(&s, t, ids[i]));
    CV_ASSERT_EQ(cv_store_sweep(&s, when + i), 1);
  }
  CV_ASSERT_EQ(cv_store_get_tensor(&s, ids[0], &got), CV_STORE_UNKNOWN);   /* pushed out */
  CV_ASSERT_EQ(cv_store_get_tensor(&s, ids[1], &got), CV_STORE_GONE);
  CV_ASSERT_EQ(cv_store_get_tensor(&s, ids[2], &got), CV_STORE_GONE);
  cv_store_sweep(&s, when + 1 + 1000);   /* ids[1] is 1000 ns old, ids[2] 999 */
  CV_ASSERT_EQ(cv_store_get_tensor(&s, ids[1], &got), CV_STORE_UNKNOWN);
  CV_ASSERT_EQ(cv_store_get_tensor(&s, ids[2], &got), CV_STORE_GONE);
  cv_store_counts_t c;
  cv_store_counts(&s, &c);
  CV_ASSERT_EQ(c.tombstones, 1);
  CV_ASSERT_EQ(c.expired, 3);
  cv_store_close(&s);
  /* tombstones = 0: gone ids read UNKNOWN at once */
  cfg.tombstones = 0;
  CV_ASSERT_OK(cv_store_init(&s, &cfg));
  CV_ASSERT_OK(cv_store_put_tensor(&s, t, ids[0]));
  CV_ASSERT_EQ(cv_store_sweep(&s, when), 1);
  CV_ASSERT_EQ(cv_store_get_tensor(&s, ids[0], &got), CV_STORE_UNKNOWN);
  cv_store_close(&s);
  cfg.ttl_ns = 0;
  CV_ASSERT_EQ(cv_store_init(&s, &cfg), -CV_EINVALID_ARGUMENT);
  cv_store_close(&s);   /* safe after a failed init */
  CV_ASSERT_EQ(atomic_load(&t->refs), 1);
  cv_tensor_unref(t);
}

/* ---- hammer: 4 threads of puts, gets, drops, sweeps and jobs ---- */

#define HAMMER_ITERS 4000
#define HAMMER_RING 64
#define HAMMER_T_BYTES 256   /* f64 × 32 */

typedef struct {
  cv_store_t *s;
  cv_tensor_t *t;
  pthread_mutex_t mu;
  char ring[HAMMER_RING][CV_STORE_ID_MAX];   /* recent ids, tensors and jobs */
  unsigned next;
} hammer_t;

typedef struct {
  hammer_t *h;
  unsigned seed;
  int found, gone, unknown;
} hammer_arg_t;

static void ring_push(hammer_t *h, const char *id) {
  pthread_mutex_lock(&h->mu);
  memcpy(h->ring[h->next++ % HAMMER_RING], id, CV_STORE_ID_MAX);
  pthread_mutex_unlock(&h->mu);
}

static void ring_pick(hammer_t *h, unsigned r, char id[CV_STORE_ID_MAX]) {
  pthread_mutex_lock(&h->mu);
  memcpy(id, h->ring[r % HAMMER_RING], CV_STORE_ID_MAX);
  pthread_mutex_unlock(&h->mu);
}

static void count(hammer_arg_t *a, cv_store_lookup_t r) {
  if (r == CV_STORE_FOUND) a->found++;
  else if (r == CV_STORE_GONE) a->gone++;
  else a->unknown++;
}

static void *hammer_thread(void *p) {
  hammer_arg_t *a = p;
  hammer_t *h = a->h;
  char id[CV_STORE_ID_MAX];
  for (int i = 0; i < HAMMER_ITERS; i++) {
    unsigned r = (unsigned)rand_r(&a->seed);
    ring_pick(h, r >> 8, id);
    switch (r % 8) {
      case 0:
      case 1: {
        int rc = cv_store_put_tensor(h->s, h->t, id);
        if (rc == 0) ring_push(h, id);
        else if (rc != -CV_EINSUFFICIENT_STORAGE) CV_FAIL_("put_tensor: %d", rc);
        break;
      }
      case 2:
      case 3: {
        cv_tensor_t *t;
        cv_store_lookup_t lr = cv_store_get_tensor(h->s, id, &t);
        if (lr == CV_STORE_FOUND) CV_ASSERT(t == h->t);
        cv_tensor_unref(t);
        count(a, lr);
        cv_job_t *j;
        count(a, cv_store_get_job(h->s, id, (r & 256) != 0, &j));
        cv_job_unref(j);
        break;
      }
      case 4: {
        int rc = id[0] == 'j' ? cv_store_drop_job(h->s, id) : cv_store_drop_tensor(h->s, id);
        CV_ASSERT(rc == 0 || rc == -CV_EGONE || rc == -CV_ENOT_FOUND || rc == -CV_ECONFLICT);
        break;
      }
      case 5:   /* sweeps, sometimes far in the future so entries expire */
        cv_store_sweep(h->s, cv_now_ns() + ((r >> 12) % 16 == 0 ? 2 * HOUR_NS : 0));
        break;
      case 6: {   /* a job through its whole life */
        cv_job_t *j = haar_job(32);   /* 256 result bytes */
        CV_ASSERT_OK(cv_store_add_job(h->s, j));
        ring_push(h, j->id);
        run_job(j, (r & 512) ? CV_JOB_SUCCEEDED : CV_JOB_FAILED);
        int rc = cv_store_job_finished(h->s, j);
        CV_ASSERT(rc == 0 || rc == -CV_EINSUFFICIENT_STORAGE);
        if (r & 2048) {
          char ids[2][CV_STORE_ID_MAX];
          rc = cv_store_keep_outputs(h->s, j, ids);
          CV_ASSERT(rc == 0 || rc == -CV_ECONFLICT || rc == -CV_EINSUFFICIENT_STORAGE);
        }
        cv_job_unref(j);
        break;
      }
      case 7: {
        cv_job_t **v;
        int n;
        cv_error_t e;
        CV_ASSERT_OK(cv_store_list_jobs(h->s, NULL, 1 + (int)(r % 50), &v, &n, &e));
        for (int k = 1; k < n; k++) CV_ASSERT(v[k - 1]->created_ns >= v[k]->created_ns);
        cv_store_list_free(v, n);
        break;
      }
    }
  }
  return NULL;
}

static void test_hammer(void) {
  cv_store_t s;
  store_open(&s, 48 * HAMMER_T_BYTES, HOUR_NS, 256);
  hammer_t h = {.s = &s, .t = f64_tensor(HAMMER_T_BYTES / 8)};
  pthread_mutex_init(&h.mu, NULL);
  hammer_arg_t args[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (hammer_arg_t){.h = &h, .seed = 12345u + (unsigned)i * 7919u};
    CV_ASSERT_EQ(pthread_create(&th[i], NULL, hammer_thread, &args[i]), 0);
  }
  int found = 0, gone = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    found += args[i].found;
    gone += args[i].gone;
  }
  CV_ASSERT(found > 0 && gone > 0);   /* the mix really exercised both */
  cv_store_counts_t c;
  cv_store_counts(&s, &c);
  CV_ASSERT(c.result_bytes + c.tensor_bytes <= 48 * HAMMER_T_BYTES);
  fprintf(stderr, "# hammer: found %d gone %d; expired %llu evicted %llu, %d tensors, %d jobs\n", found, gone,
          (unsigned long long)c.expired, (unsigned long long)c.evicted, c.tensors, c.jobs);
  CV_ASSERT(c.evicted > 0 && c.expired > 0);
  CV_ASSERT(c.results <= c.jobs);
  CV_ASSERT_EQ(cv_store_bytes(&s), c.result_bytes + c.tensor_bytes);
  /* every stored tensor is h.t (256 B) or a kept output (128 B each) */
  CV_ASSERT(c.tensor_bytes >= (size_t)c.tensors * 128 && c.tensor_bytes <= (size_t)c.tensors * 256);
  CV_ASSERT(atomic_load(&h.t->refs) >= 1 && atomic_load(&h.t->refs) <= 1 + c.tensors);
  cv_store_close(&s);
  CV_ASSERT_EQ(atomic_load(&h.t->refs), 1);
  cv_tensor_unref(h.t);
  pthread_mutex_destroy(&h.mu);
}

#define CV_TEST_LIST(XX)                                                                     \
  XX(job_lifecycle) XX(drop_and_remove) XX(ttl_touch) XX(lru_eviction) XX(tensors)           \
  XX(tensor_cap) XX(keep_outputs) XX(list_jobs) XX(tombstones) XX(hammer)
CV_TEST_MAIN(CV_TEST_LIST)
