/* test_engine.c — the priority queue, batch keys, and the engine: admission
 * limits (queue_full, payload_too_large), priorities, deadlines, cancel,
 * batching of same-key jobs, and shutdown of queued jobs. */
#include <string.h>
#include <unistd.h>

#include "../../engine/engine.h"
#include "runner.h"

/* A haar dwt job on an n-sample float64 signal filled with i. */
static cv_job_t *haar_job(int64_t n, int prio) {
  cv_op_params_t p;
  cv_op_params_default(&p, CV_OP_DWT);
  p.u.dwt.n_wavelets = 1;
  cv_wavelet_from_info(&p.u.dwt.wavelets[0], cv_wavelet_find("haar"));
  p.u.dwt.level = 1;
  cv_tensor_t *t;
  cv_error_t e;
  CV_ASSERT_OK(cv_tensor_new(&t, CV_DTYPE_F64, 1, &n, 0, false, &e));
  for (int64_t i = 0; i < n; i++) ((double *)t->a.data)[i] = (double)i;
  const char *names[1] = {"x"};
  cv_job_t *j = NULL;
  CV_ASSERT_OK(cv_job_create(&j, &p, 1, names, &t, &e));
  cv_tensor_unref(t);
  j->priority = prio;
  return j;
}

static void test_queue_priorities(void) {
  cv_queue_t q;
  cv_queue_init(&q);
  cv_job_t *a = haar_job(8, 5), *b = haar_job(8, 0), *c = haar_job(8, 5), *d = haar_job(8, 9);
  cv_queue_push(&q, a);
  cv_queue_push(&q, b);
  cv_queue_push(&q, c);
  cv_queue_push(&q, d);
  CV_ASSERT_EQ(q.n, 4);
  CV_ASSERT(cv_queue_remove(&q, c));
  CV_ASSERT(!cv_queue_remove(&q, c));
  CV_ASSERT(cv_queue_pop(&q) == b);
  CV_ASSERT(cv_queue_pop(&q) == a);
  CV_ASSERT(cv_queue_pop(&q) == d);
  CV_ASSERT(cv_queue_pop(&q) == NULL);
  CV_ASSERT_EQ(q.n, 0);
  cv_job_unref(a), cv_job_unref(b), cv_job_unref(c), cv_job_unref(d);
}

static void test_queue_device_masks(void) {
  cv_queue_t q;
  cv_queue_init(&q);
  cv_job_t *gpu = haar_job(8, 0), *cpu = haar_job(8, 5);
  gpu->device_mask = 1u << 0; /* cuda:0 */
  cpu->device_mask = 1u << 1; /* the CPU */
  cv_queue_push(&q, gpu);
  cv_queue_push(&q, cpu);
  CV_ASSERT(cv_queue_pop_for(&q, 1u << 1) == cpu); /* skips the higher-priority GPU job */
  CV_ASSERT(cv_queue_pop_for(&q, 1u << 1) == NULL);
  CV_ASSERT(cv_queue_pop_for(&q, 1u << 0) == gpu);
  CV_ASSERT_EQ(q.n, 0);
  cv_job_unref(gpu), cv_job_unref(cpu);
}

static void test_pool_reuse(void) {
  cv_pool_t *p;
  CV_ASSERT_OK(cv_pool_new(&p, 8u << 20));
  cv_error_t e;
  int64_t big[1] = {(3 << 20) / 4}, small[1] = {16};
  cv_tensor_t *a, *b, *c;
  CV_ASSERT_OK(cv_tensor_new_pooled(p, &a, CV_DTYPE_F32, 1, big, &e));
  CV_ASSERT_EQ(a->nbytes, 3u << 20);
  void *mem = a->a.data;
  cv_tensor_unref(a);
  CV_ASSERT_EQ(cv_pool_cached_bytes(p), 3u << 20); /* whole pages: kept as is */
  CV_ASSERT_OK(cv_tensor_new_pooled(p, &b, CV_DTYPE_F32, 1, big, &e));
  CV_ASSERT(b->a.data == mem); /* reused, not faulted in again */
  CV_ASSERT_EQ(cv_pool_cached_bytes(p), 0);
  CV_ASSERT_OK(cv_tensor_new_pooled(p, &c, CV_DTYPE_F32, 1, small, &e)); /* small: plain malloc */
  cv_tensor_unref(c);
  CV_ASSERT_EQ(cv_pool_cached_bytes(p), 0);
  cv_pool_unref(p);      /* the engine lets go; b still holds the pool */
  cv_tensor_unref(b);    /* frees the pool with it (LeakSanitizer checks) */
  CV_ASSERT_OK(cv_pool_new(&p, 4u << 20));
  int64_t huge[1] = {(6 << 20) / 4};
  CV_ASSERT_OK(cv_tensor_new_pooled(p, &a, CV_DTYPE_F32, 1, huge, &e));
  cv_tensor_unref(a); /* over the cap: not kept */
  CV_ASSERT_EQ(cv_pool_cached_bytes(p), 0);
  cv_pool_unref(p);
}

static void test_batch_keys(void) {
  cv_job_t *a = haar_job(16, 5), *b = haar_job(16, 3), *c = haar_job(18, 5);
  CV_ASSERT(cv_job_same_key(a, b));    /* priority is not part of the key */
  CV_ASSERT(!cv_job_same_key(a, c));   /* shape is */
  /* equal hashes are not enough: the params themselves are compared */
  cv_job_t *d = haar_job(16, 5);
  d->params->u.dwt.level = 0;
  d->key_hash = a->key_hash;
  CV_ASSERT(!cv_job_same_key(a, d));
  cv_queue_t q;
  cv_queue_init(&q);
  b->device_mask = c->device_mask = 1u << 1;
  cv_queue_push(&q, c);
  cv_queue_push(&q, b);
  CV_ASSERT(cv_queue_take_like(&q, a, 1u << 0) == NULL); /* b is not for device 0 */
  CV_ASSERT(cv_queue_take_like(&q, a, 1u << 1) == b);
  CV_ASSERT(cv_queue_take_like(&q, a, 1u << 1) == NULL);
  CV_ASSERT(cv_queue_pop(&q) == c);
  cv_job_unref(a), cv_job_unref(b), cv_job_unref(c), cv_job_unref(d);
}

static void test_deadline_saturates(void) {
  CV_ASSERT_EQ(cv_deadline_after_ms(1000, 0), 0);
  CV_ASSERT_EQ(cv_deadline_after_ms(1000, 5), 5001000);
  CV_ASSERT_EQ(cv_deadline_after_ms(1000, INT64_MAX / 1000), 0); /* would overflow: no deadline */
}

static cv_engine_t *start(int max_queue, size_t max_bytes, int max_batch, int64_t delay_us) {
  static cv_engine_t e;
  cv_engine_config_t cfg;
  cv_engine_config_default(&cfg);
  cfg.threads = 2;
  cfg.max_queue_jobs = max_queue;
  cfg.max_inflight_bytes = max_bytes;
  cfg.max_batch = max_batch;
  cfg.max_batch_delay_us = delay_us;
  cv_error_t err;
  CV_ASSERT_OK(cv_engine_init(&e, &cfg, &err));
  return &e;
}

static void test_run_one(void) {
  cv_engine_t *e = start(8, 0, 4, 0);
  cv_job_t *j = haar_job(8, 5);
  cv_error_t err;
  CV_ASSERT_OK(cv_engine_submit(e, j, &err));
  CV_ASSERT(cv_job_wait(j, 10000));
  CV_ASSERT_EQ(atomic_load(&j->state), CV_JOB_SUCCEEDED);
  CV_ASSERT_EQ(j->outs.n_out, 2);
  CV_ASSERT_STREQ(j->outs.out[0].name, "a");
  const double *a = j->out_t[0]->a.data; /* haar of 0..7: (2i + 2i+1)/sqrt2 */
  CV_ASSERT_NEAR(a[1], 5.0 / sqrt(2.0), 1e-12);
  CV_ASSERT_EQ(j->batch_size, 1);
  CV_ASSERT_STREQ(j->device, "cpu");
  CV_ASSERT(j->finished_ns >= j->started_ns && j->started_ns >= j->created_ns);
  CV_ASSERT(j->in_t[0] == NULL); /* inputs released when the job ended */
  cv_job_unref(j);
  cv_engine_close(e);
  cv_engine_close(e); /* safe twice */
}

/* Device gauges come from the backend through the engine: the CPU reports
 * the process's RSS, utilisation unknown; out-of-range devices are refused. */
static void test_device_stats(void) {
  cv_engine_t *e = start(8, 0, 4, 0);
  int cpu = e->n_devs - 1;
  cv_device_stats_t st = {0, 0};
  CV_ASSERT_OK(cv_engine_device_stats(e, cpu, &st));
  CV_ASSERT(st.memory_used_bytes > (1u << 20));
  CV_ASSERT(isnan(st.utilization));
  CV_ASSERT_EQ(cv_engine_device_stats(e, e->n_devs, &st), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_engine_device_stats(e, -1, &st), -CV_EINVALID_ARGUMENT);
  cv_engine_close(e);
}

static void test_limits(void) {
  cv_job_t *big = haar_job(1024, 5);
  cv_engine_t *e = start(2, big->in_bytes + big->out_bytes - 1, 1, 0);
  cv_error_t err;
  CV_ASSERT_EQ(cv_engine_submit(e, big, &err), -CV_EPAYLOAD_TOO_LARGE);
  cv_engine_close(e);
  /* a queue of 2 with a batch that waits long: the third submission gets 429 */
  e = start(2, 0, 64, 2000000);
  cv_job_t *j[3] = {haar_job(8, 5), haar_job(8, 5), haar_job(8, 5)};
  CV_ASSERT_OK(cv_engine_submit(e, j[0], &err));
  CV_ASSERT_OK(cv_engine_submit(e, j[1], &err));
  CV_ASSERT_EQ(cv_engine_submit(e, j[2], &err), -CV_EQUEUE_FULL);
  CV_ASSERT_STREQ(cv_err_name(err.code), "queue_full");
  CV_ASSERT(cv_job_wait(j[0], 10000) && cv_job_wait(j[1], 10000));
  CV_ASSERT_EQ(j[0]->batch_size, 2); /* same key: one backend call */
  cv_engine_close(e);
  for (int i = 0; i < 3; i++) cv_job_unref(j[i]);
  cv_job_unref(big);
}

static void test_deadline_and_cancel(void) {
  cv_engine_t *e = start(16, 0, 64, 300000); /* partial batches wait 300 ms */
  cv_error_t err;
  cv_job_t *late = haar_job(8, 5), *cancel = haar_job(10, 5), *done = haar_job(12, 5);
  late->deadline_ns = cv_now_ns() + 1000000; /* 1 ms: expires while the batch waits */
  CV_ASSERT_OK(cv_engine_submit(e, late, &err));
  CV_ASSERT_OK(cv_engine_submit(e, cancel, &err));
  CV_ASSERT_OK(cv_engine_submit(e, done, &err));
  CV_ASSERT_OK(cv_engine_cancel(e, cancel));
  CV_ASSERT(cv_job_wait(cancel, 10000));
  CV_ASSERT_EQ(atomic_load(&cancel->state), CV_JOB_CANCELLED);
  CV_ASSERT_STREQ(cv_err_name(cancel->error.code), "cancelled");
  CV_ASSERT_EQ(cv_engine_cancel(e, cancel), -CV_ECONFLICT);
  CV_ASSERT(cv_job_wait(late, 10000));
  CV_ASSERT_EQ(atomic_load(&late->state), CV_JOB_FAILED);
  CV_ASSERT(late->out_t == NULL && late->in_t[0] == NULL);
  CV_ASSERT_STREQ(cv_err_name(late->error.code), "deadline_exceeded");
  CV_ASSERT(cv_job_wait(done, 10000));
  CV_ASSERT_EQ(atomic_load(&done->state), CV_JOB_SUCCEEDED);
  int queued, running;
  size_t bytes;
  /* a job's slot is returned just after it ends (its completion is posted first) */
  for (int i = 0; i < 1000; i++) {
    cv_engine_gauges(e, &queued, &running, &bytes);
    if (queued + running == 0 && bytes == 0) break;
    usleep(1000);
  }
  CV_ASSERT_EQ(queued + running, 0);
  CV_ASSERT_EQ(bytes, 0);
  cv_engine_close(e);
  cv_job_unref(late), cv_job_unref(cancel), cv_job_unref(done);
}

static void test_priority_order_and_batching(void) {
  /* 40 same-key jobs submitted while the worker waits on a batch: they run
   * in few backend calls, and every result is right. */
  cv_engine_t *e = start(64, 0, 16, 20000);
  cv_error_t err;
  cv_job_t *j[40];
  for (int i = 0; i < 40; i++) {
    j[i] = haar_job(64, i % 10);
    CV_ASSERT_OK(cv_engine_submit(e, j[i], &err));
  }
  int max_bs = 0;
  for (int i = 0; i < 40; i++) {
    CV_ASSERT(cv_job_wait(j[i], 10000));
    CV_ASSERT_EQ(atomic_load(&j[i]->state), CV_JOB_SUCCEEDED);
    const double *d = j[i]->out_t[1]->a.data; /* haar detail of a ramp: -1/sqrt2 */
    CV_ASSERT_NEAR(d[3], -1.0 / sqrt(2.0), 1e-12);
    if (j[i]->batch_size > max_bs) max_bs = j[i]->batch_size;
  }
  CV_ASSERT(max_bs > 1);
  CV_ASSERT(atomic_load(&e->stats.batches) < 40);
  cv_engine_close(e);
  for (int i = 0; i < 40; i++) cv_job_unref(j[i]);
}

static void test_close_cancels_queued(void) {
  cv_engine_t *e = start(8, 0, 64, 5000000); /* the first batch waits 5 s */
  cv_error_t err;
  cv_job_t *a = haar_job(8, 5), *b = haar_job(16, 5);
  CV_ASSERT_OK(cv_engine_submit(e, a, &err));
  usleep(20000);
  CV_ASSERT_OK(cv_engine_submit(e, b, &err));
  cv_engine_close(e);
  CV_ASSERT(cv_job_wait(a, 0) && cv_job_wait(b, 0));
  CV_ASSERT_EQ(atomic_load(&a->state), CV_JOB_SUCCEEDED); /* the formed batch still runs */
  CV_ASSERT_EQ(atomic_load(&b->state), CV_JOB_CANCELLED);
  cv_job_unref(a), cv_job_unref(b);
}

/* A batch's small outputs in one buffer: aligned, disjoint, writable, and
 * freed only when the last of them goes (ASan checks the order). */
static void test_tensors_shared(void) {
  cv_array_t a = {.dtype = CV_DTYPE_F32, .ndim = 1, .shape = {3}};
  cv_array_t b = {.dtype = CV_DTYPE_F64, .ndim = 2, .shape = {100, 300}};
  cv_array_t c = {.dtype = CV_DTYPE_C64, .ndim = 1, .shape = {0}};
  const cv_array_t *like[3] = {&a, &b, &c};
  cv_tensor_t *t[3];
  cv_error_t err;
  CV_ASSERT_OK(cv_tensors_new_shared(t, 3, like, &err));
  for (int i = 0; i < 3; i++) {
    CV_ASSERT_EQ((uintptr_t)t[i]->a.data % CV_TENSOR_ALIGN, 0);
    CV_ASSERT_EQ(t[i]->a.dtype, like[i]->dtype);
    CV_ASSERT_EQ(t[i]->nbytes, cv_array_nbytes(like[i]));
  }
  CV_ASSERT((char *)t[1]->a.data >= (char *)t[0]->a.data + t[0]->nbytes);
  memset(t[0]->a.data, 1, t[0]->nbytes);
  memset(t[1]->a.data, 2, t[1]->nbytes);
  CV_ASSERT_EQ(((unsigned char *)t[0]->a.data)[11], 1);
  cv_tensor_unref(t[1]);
  CV_ASSERT_EQ(((unsigned char *)t[0]->a.data)[0], 1);   /* still alive */
  cv_tensor_unref(t[0]);
  cv_tensor_unref(t[2]);
  CV_ASSERT_OK(cv_tensors_new_shared(t, 0, like, &err));   /* none: nothing to do */
  cv_array_t bad = {.dtype = CV_DTYPE_F32, .ndim = 1, .shape = {-1}};
  const cv_array_t *badl[2] = {&a, &bad};
  CV_ASSERT(cv_tensors_new_shared(t, 2, badl, &err) < 0);
}

static void count_slab(void *ctx, int out_index, size_t off, size_t n) {
  size_t *seen = ctx;   /* [2]: bytes of outputs 0 and 1, which come in order */
  CV_ASSERT(out_index >= 0 && out_index < 2 && off == seen[out_index]);
  seen[out_index] += n;
}

/* A job's on_slab reaches the backend: every output byte is reported once,
 * in order, before the job ends (a disk sink writes from these). */
static void test_on_slab_passes_through(void) {
  cv_engine_t *e = start(8, 0, 1, 0);
  size_t seen[2] = {0, 0};
  cv_job_t *j = haar_job(4096, 5);
  j->on_slab = count_slab;
  j->on_slab_ctx = seen;
  cv_error_t err;
  CV_ASSERT_OK(cv_engine_submit(e, j, &err));
  CV_ASSERT(cv_job_wait(j, 10000));
  CV_ASSERT_EQ(atomic_load(&j->state), CV_JOB_SUCCEEDED);
  CV_ASSERT_EQ(seen[0], 2048 * sizeof(double));
  CV_ASSERT_EQ(seen[1], 2048 * sizeof(double));
  cv_engine_close(e);
  cv_job_unref(j);
}

static void test_run_inline(void) {
  cv_engine_t *e = start(8, 0, 64, 300000);   /* partial batches wait 300 ms */
  cv_error_t err;
  /* off (inline_max_bytes 0, the default of the engine config) */
  cv_job_t *a = haar_job(8, 5);
  CV_ASSERT_EQ(cv_engine_run_inline(e, a, &err), 0);
  cv_engine_set_inline(e, 4096);
  /* idle: runs here, ended on return, one item, the CPU */
  CV_ASSERT_EQ(cv_engine_run_inline(e, a, &err), 1);
  CV_ASSERT_EQ(atomic_load(&a->state), CV_JOB_SUCCEEDED);
  CV_ASSERT_EQ(a->batch_size, 1);
  CV_ASSERT_STREQ(a->device, "cpu");
  CV_ASSERT_NEAR(((const double *)a->out_t[0]->a.data)[1], 5.0 / sqrt(2.0), 1e-12);
  /* too big for the limit: the caller queues it */
  cv_job_t *big = haar_job(1024, 5);
  CV_ASSERT_EQ(cv_engine_run_inline(e, big, &err), 0);
  /* the worker gathers a batch: same-size jobs join it instead */
  CV_ASSERT_OK(cv_engine_submit(e, big, &err));
  usleep(20000);
  cv_job_t *b = haar_job(8, 5), *c = haar_job(16, 5);
  CV_ASSERT_EQ(cv_engine_run_inline(e, b, &err), 0);
  CV_ASSERT_OK(cv_engine_submit(e, b, &err));
  CV_ASSERT_EQ(cv_engine_run_inline(e, c, &err), 0);   /* b is queued: c may not overtake it */
  CV_ASSERT(cv_job_wait(big, 10000) && cv_job_wait(b, 10000));
  usleep(20000);   /* the worker goes back to waiting */
  CV_ASSERT_EQ(cv_engine_run_inline(e, c, &err), 1);
  CV_ASSERT_EQ(atomic_load(&c->state), CV_JOB_SUCCEEDED);
  /* admission as submit: a deadline already passed fails the job, not the call */
  cv_job_t *late = haar_job(8, 5);
  late->deadline_ns = cv_now_ns() - 1;
  CV_ASSERT_EQ(cv_engine_run_inline(e, late, &err), 1);
  CV_ASSERT_EQ(atomic_load(&late->state), CV_JOB_FAILED);
  int queued, running;
  size_t bytes;
  cv_engine_gauges(e, &queued, &running, &bytes);
  CV_ASSERT_EQ(queued + running, 0);
  CV_ASSERT_EQ(bytes, 0);
  cv_engine_close(e);
  cv_job_unref(a), cv_job_unref(big), cv_job_unref(b), cv_job_unref(c), cv_job_unref(late);
}

#define CV_TEST_LIST(XX)                                                                   \
  XX(queue_priorities) XX(queue_device_masks) XX(pool_reuse) XX(batch_keys) XX(deadline_saturates) XX(run_one) XX(device_stats) XX(limits) XX(deadline_and_cancel)       \
  XX(priority_order_and_batching) XX(close_cancels_queued) XX(run_inline) XX(on_slab_passes_through) XX(tensors_shared)
CV_TEST_MAIN(CV_TEST_LIST)
