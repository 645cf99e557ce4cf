/* test_sink.c — convoyd's disk sink driven as a slab executor would drive
 * it: a producer thread reports output byte ranges (cv_sink_produced) while
 * the test runs the libuv loop; the temporary file grows before the job ends
 * (written as produced), the committed .npz is bit-exact, and a job that
 * fails after part of its output was written leaves no file behind. */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../engine/paths.h"
#include "../../proto/npz.h"
#include "../../server/server.h"
#include "runner.h"

static cv_server_t S;
static char dir[] = "/tmp/convoy-sink-XXXXXX";

static void setup(void) {
  cv_error_t err;
  CV_ASSERT(mkdtemp(dir) != NULL);
  snprintf(S.cfg.data_dir, sizeof S.cfg.data_dir, "%s", dir);
  CV_ASSERT_OK(cv_data_dir_prepare(dir, &err));
  CV_ASSERT_OK(cv_log_init(&S.log, 2, CV_LOG_ERROR, CV_LOG_FORMAT_TEXT));
  pthread_mutex_init(&S.mu, NULL);
  CV_ASSERT_OK(uv_loop_init(&S.loop));
  cv_sink_loop_init(&S);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_dir(void) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void teardown(void) {
  cv_sink_loop_close(&S);
  uv_run(&S.loop, UV_RUN_DEFAULT);
  CV_ASSERT_OK(uv_loop_close(&S.loop));
  rm_dir();
}

/* Size of the temporary file under outputs/slabs (-1 when there is none). */
static long long temp_size(void) {
  char p[512];
  snprintf(p, sizeof p, "%s/outputs/slabs", dir);
  DIR *d = opendir(p);
  if (!d) return -1;
  long long size = -1;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strstr(e->d_name, ".tmp")) continue;
    char f[1024];
    struct stat st;
    snprintf(f, sizeof f, "%s/%s", p, e->d_name);
    if (stat(f, &st) == 0) size = st.st_size;
  }
  closedir(d);
  return size;
}

static void free_ctx(void *p) {
  cv_jobctx_t *jc = p;
  cv_sink_free(jc);
  free(jc->sink_abs);
  free(jc->sink_rel);
  for (int i = 0; jc->path_rel && i < jc->n_out; i++) free(jc->path_rel[i]);
  free(jc->path_rel);
  free(jc);
}

/* A dwt haar job on n doubles with its outputs allocated and filled, as a
 * worker holds it while it runs; its disk output is slabs/out.npz. */
static cv_job_t *running_job(int64_t n) {
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
  cv_jobctx_t *jc = calloc(1, sizeof *jc);
  CV_ASSERT(jc);
  jc->srv = &S;
  jc->n_out = j->outs.n_out;
  j->user = jc;
  j->user_free = free_ctx;
  cv_spec_t sp;
  memset(&sp, 0, sizeof sp);
  sp.has_output = true;
  sp.output_path = "slabs/out.npz";
  CV_ASSERT_OK(cv_sink_prepare(&S, &sp, j, jc, &e));
  j->out_t = calloc((size_t)j->outs.n_out, sizeof *j->out_t);
  for (int k = 0; k < j->outs.n_out; k++) {
    cv_array_t *a = &j->outs.out[k].a;
    CV_ASSERT_OK(cv_tensor_new(&j->out_t[k], a->dtype, a->ndim, a->shape, 0, false, &e));
    unsigned char *d = j->out_t[k]->a.data;
    for (size_t i = 0; i < j->out_t[k]->nbytes; i++) d[i] = (unsigned char)(i * 29 + k);
    a->data = d;
  }
  return j;
}

typedef struct {
  cv_job_t *j;
  uint64_t upto;   /* bytes of each output to report, from where the last call stopped */
  uint64_t from;
} producer_t;

static void *produce(void *arg) {
  producer_t *pr = arg;
  const uint64_t slab = 3u << 20;   /* like slabs of an outer axis, both outputs per slab */
  for (uint64_t off = pr->from; off < pr->upto; off += slab) {
    uint64_t n = pr->upto - off < slab ? pr->upto - off : slab;
    for (int k = 0; k < pr->j->outs.n_out; k++) cv_sink_produced(pr->j->user, k, off, n);
  }
  return NULL;
}

static void run_producer(cv_job_t *j, uint64_t from, uint64_t upto) {
  producer_t pr = {.j = j, .upto = upto, .from = from};
  pthread_t th;
  CV_ASSERT_OK(pthread_create(&th, NULL, produce, &pr));
  CV_ASSERT_OK(pthread_join(th, NULL));
}

/* Runs the loop until cond() holds (or 20 s pass). */
static void spin_until(bool (*cond)(void)) {
  for (int i = 0; i < 20000 && !cond(); i++) {
    uv_run(&S.loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  CV_ASSERT(cond());
}

static long long want_size;
static bool temp_reached(void) { return temp_size() >= want_size; }
static bool done_flag;
static bool is_done(void) { return done_flag; }
static void on_done(cv_server_t *s, cv_job_t *j) {
  (void)s;
  (void)j;
  done_flag = true;
}

static void test_written_as_produced(void) {
  setup();
  int64_t n = 3 << 20;   /* 24 MiB of float64 in, two 12 MiB outputs */
  cv_job_t *j = running_job(n);
  uint64_t len = j->out_t[0]->nbytes;
  /* the first 7 MiB of each output: the archive's first member is on disk
   * (its header and 7 MiB) before the job has ended */
  run_producer(j, 0, 7u << 20);
  want_size = 7 << 20;
  spin_until(temp_reached);
  char target[512];
  snprintf(target, sizeof target, "%s/outputs/slabs/out.npz", dir);
  CV_ASSERT(access(target, F_OK) != 0);
  run_producer(j, 7u << 20, len);
  want_size = (long long)(2 * len);
  spin_until(temp_reached);
  CV_ASSERT(access(target, F_OK) != 0);   /* no commit before the job succeeded */
  atomic_store(&j->state, CV_JOB_SUCCEEDED);
  done_flag = false;
  CV_ASSERT_EQ(cv_sink_start(&S, j, on_done), 0);
  spin_until(is_done);
  CV_ASSERT_EQ(atomic_load(&j->state), CV_JOB_SUCCEEDED);
  CV_ASSERT_EQ(temp_size(), -1);
  cv_named_tensor_t *out;
  int cnt;
  cv_error_t e;
  CV_ASSERT_OK(cv_npz_load(target, 0, &out, &cnt, &e));
  CV_ASSERT_EQ(cnt, 2);
  for (int k = 0; k < 2; k++) {
    CV_ASSERT_STREQ(out[k].name, j->outs.out[k].name);
    CV_ASSERT_EQ(out[k].t->nbytes, len);
    CV_ASSERT(memcmp(out[k].t->a.data, j->out_t[k]->a.data, len) == 0);
  }
  cv_named_tensors_free(out, cnt);
  cv_jobctx_t *jc = j->user;
  CV_ASSERT_STREQ(jc->path_rel[0], "slabs/out.npz");
  cv_job_unref(j);
  teardown();
}

static void test_failure_removes_partial(void) {
  setup();
  cv_job_t *j = running_job(1 << 20);
  run_producer(j, 0, 1u << 20);
  want_size = 1 << 20;
  spin_until(temp_reached);
  cv_error_t e;
  cv_error_set(&e, CV_EDEADLINE_EXCEEDED, NULL, "test");
  j->error = e;
  atomic_store(&j->state, CV_JOB_FAILED);
  done_flag = false;
  CV_ASSERT_EQ(cv_sink_start(&S, j, on_done), 0);
  spin_until(is_done);
  CV_ASSERT_EQ(temp_size(), -1);
  char target[512];
  snprintf(target, sizeof target, "%s/outputs/slabs/out.npz", dir);
  CV_ASSERT(access(target, F_OK) != 0);
  CV_ASSERT_EQ(j->error.code, CV_EDEADLINE_EXCEEDED);   /* the job's own error stays */
  cv_job_unref(j);
  /* a failed job that never produced anything: nothing to do */
  j = running_job(1000);
  atomic_store(&j->state, CV_JOB_FAILED);
  CV_ASSERT_EQ(cv_sink_start(&S, j, on_done), 1);
  cv_job_unref(j);
  teardown();
}

#define CV_TEST_LIST(XX) XX(written_as_produced) XX(failure_removes_partial)
CV_TEST_MAIN(CV_TEST_LIST)
