/* test_plan_cache.c — the conv plan cache (kernels/cuda/plan_cache.h) on
 * the CPU: round trip through the file, corrupt and torn lines ignored,
 * the bound (least recently used evicted; the file compacted), concurrent
 * inserts from several threads, and the per-device path under data_dir. */
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../kernels/cuda/plan_cache.h"
#include "runner.h"

static char *tmp_dir(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/cv_plans_XXXXXX");
  CV_ASSERT(mkdtemp(dir) != NULL);
  return dir;
}

static void rm_rf(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CV_ASSERT_EQ(system(cmd), 0);
}

static long count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  long n = 0;
  int ch;
  if (!f) return -1;
  while ((ch = fgetc(f)) != EOF) n += ch == '\n';
  fclose(f);
  return n;
}

static void test_round_trip(void) {
  char *dir = tmp_dir(), path[256];
  snprintf(path, sizeof path, "%s/p.tsv", dir);
  cv_plan_cache_t *pc;
  CV_ASSERT_OK(cv_plan_cache_open(path, 16, &pc));
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 0);
  CV_ASSERT_OK(cv_plan_cache_put(pc, "conv3/float32/a", CV_CONV_ALGO_CUDNN, 1.25));
  CV_ASSERT_OK(cv_plan_cache_put(pc, "conv2/bfloat16/b", CV_CONV_ALGO_DEPTHTAP, 0.5));
  CV_ASSERT_OK(cv_plan_cache_put(pc, "conv3/float32/a", CV_CONV_ALGO_FFT, 0.75));   /* replaces */
  cv_conv_algo_t a;
  double ms;
  CV_ASSERT(cv_plan_cache_get(pc, "conv3/float32/a", &a, &ms));
  CV_ASSERT_EQ(a, CV_CONV_ALGO_FFT);
  CV_ASSERT_NEAR(ms, 0.75, 1e-12);
  CV_ASSERT(!cv_plan_cache_get(pc, "conv3/float32/zz", &a, NULL));
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 2);
  /* refused: auto, bad keys, bad times */
  CV_ASSERT_EQ(cv_plan_cache_put(pc, "k", CV_CONV_ALGO_AUTO, 1), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_plan_cache_put(pc, "has space", CV_CONV_ALGO_GEMM, 1), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_plan_cache_put(pc, "tab\tkey", CV_CONV_ALGO_GEMM, 1), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_plan_cache_put(pc, "", CV_CONV_ALGO_GEMM, 1), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_plan_cache_put(pc, "k", CV_CONV_ALGO_GEMM, -1), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_plan_cache_put(pc, "k", CV_CONV_ALGO_GEMM, NAN), -CV_EINVALID_ARGUMENT);
  cv_plan_cache_close(pc);

  CV_ASSERT_OK(cv_plan_cache_open(path, 16, &pc));   /* a restart reads the file back */
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 2);
  CV_ASSERT(cv_plan_cache_get(pc, "conv3/float32/a", &a, &ms));
  CV_ASSERT_EQ(a, CV_CONV_ALGO_FFT);   /* the later line won */
  CV_ASSERT_NEAR(ms, 0.75, 1e-12);
  CV_ASSERT(cv_plan_cache_get(pc, "conv2/bfloat16/b", &a, NULL));
  CV_ASSERT_EQ(a, CV_CONV_ALGO_DEPTHTAP);
  cv_plan_cache_close(pc);

  CV_ASSERT_OK(cv_plan_cache_open(NULL, 4, &pc));   /* memory only */
  CV_ASSERT_OK(cv_plan_cache_put(pc, "m", CV_CONV_ALGO_DIRECT, 2));
  CV_ASSERT(cv_plan_cache_get(pc, "m", &a, NULL));
  cv_plan_cache_close(pc);
  CV_ASSERT_EQ(cv_plan_cache_open(NULL, 0, &pc), -CV_EINVALID_ARGUMENT);
  rm_rf(dir);
}

static void test_corrupt_lines_are_ignored(void) {
  char *dir = tmp_dir(), path[256];
  snprintf(path, sizeof path, "%s/p.tsv", dir);
  FILE *f = fopen(path, "w");
  CV_ASSERT(f != NULL);
  fputs("# convoy conv plans v1\n", f);
  fputs("good1\tcudnn\t0.5\n", f);
  fputs("no tabs at all\n", f);
  fputs("two\tfields\n", f);
  fputs("four\tgemm\t1\textra\n", f);
  fputs("badalgo\twinograd\t1\n", f);
  fputs("isauto\tauto\t1\n", f);
  fputs("negtime\tgemm\t-3\n", f);
  fputs("nantime\tgemm\tnan\n", f);
  fputs("junktime\tgemm\t1.5x\n", f);
  fputs("emptytime\tgemm\t\n", f);
  fputs("\tgemm\t1\n", f);
  fputs("key with space\tgemm\t1\n", f);
  fputc('\n', f);
  fputs("bin\x01key\tgemm\t1\n", f);
  for (int i = 0; i < 2000; i++) fputc('x', f);   /* over-long line */
  fputs("\tgemm\t1\n", f);
  fputs("good2\tFFT\t2\n", f);   /* names are case-insensitive */
  fputs("torn\tgemm\t1", f);     /* no newline: a write cut short */
  fclose(f);
  cv_plan_cache_t *pc;
  CV_ASSERT_OK(cv_plan_cache_open(path, 16, &pc));
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 2);
  cv_conv_algo_t a;
  CV_ASSERT(cv_plan_cache_get(pc, "good1", &a, NULL));
  CV_ASSERT_EQ(a, CV_CONV_ALGO_CUDNN);
  CV_ASSERT(cv_plan_cache_get(pc, "good2", &a, NULL));
  CV_ASSERT_EQ(a, CV_CONV_ALGO_FFT);
  CV_ASSERT(!cv_plan_cache_get(pc, "torn", &a, NULL));
  /* appending after a torn line still gives parseable lines for good3 */
  CV_ASSERT_OK(cv_plan_cache_put(pc, "good3", CV_CONV_ALGO_GEMM, 3));
  cv_plan_cache_close(pc);
  CV_ASSERT_OK(cv_plan_cache_open(path, 16, &pc));
  CV_ASSERT(cv_plan_cache_get(pc, "good1", &a, NULL));
  CV_ASSERT(cv_plan_cache_get(pc, "good2", &a, NULL));
  CV_ASSERT(cv_plan_cache_get(pc, "good3", &a, NULL));
  CV_ASSERT_EQ(a, CV_CONV_ALGO_GEMM);
  cv_plan_cache_close(pc);
  /* binary garbage, a directory in place of the file, a missing folder */
  f = fopen(path, "w");
  for (int i = 0; i < 5000; i++) fputc((i * 7919) & 0xff, f);
  fclose(f);
  CV_ASSERT_OK(cv_plan_cache_open(path, 16, &pc));
  cv_plan_cache_close(pc);
  char sub[300];
  snprintf(sub, sizeof sub, "%s/d", dir);
  CV_ASSERT_EQ(mkdir(sub, 0755), 0);
  CV_ASSERT_OK(cv_plan_cache_open(sub, 16, &pc));
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 0);
  CV_ASSERT_OK(cv_plan_cache_put(pc, "k", CV_CONV_ALGO_GEMM, 1));   /* cannot write: memory only */
  CV_ASSERT(cv_plan_cache_get(pc, "k", &a, NULL));
  cv_plan_cache_close(pc);
  snprintf(sub, sizeof sub, "%s/missing/p.tsv", dir);
  CV_ASSERT_OK(cv_plan_cache_open(sub, 16, &pc));
  CV_ASSERT_OK(cv_plan_cache_put(pc, "k", CV_CONV_ALGO_GEMM, 1));
  cv_plan_cache_close(pc);
  rm_rf(dir);
}

static void test_bounded_size(void) {
  char *dir = tmp_dir(), path[256], key[64];
  snprintf(path, sizeof path, "%s/p.tsv", dir);
  cv_plan_cache_t *pc;
  cv_conv_algo_t a;
  CV_ASSERT_OK(cv_plan_cache_open(path, 8, &pc));
  for (int i = 0; i < 8; i++) {
    snprintf(key, sizeof key, "k%d", i);
    CV_ASSERT_OK(cv_plan_cache_put(pc, key, CV_CONV_ALGO_GEMM, i));
  }
  CV_ASSERT(cv_plan_cache_get(pc, "k0", &a, NULL));   /* k0 recently used: k1 is the oldest */
  CV_ASSERT_OK(cv_plan_cache_put(pc, "k8", CV_CONV_ALGO_FFT, 8));
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 8);
  CV_ASSERT(cv_plan_cache_get(pc, "k0", &a, NULL));
  CV_ASSERT(!cv_plan_cache_get(pc, "k1", &a, NULL));
  CV_ASSERT(cv_plan_cache_get(pc, "k8", &a, NULL));
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof key, "many%d", i);
    CV_ASSERT_OK(cv_plan_cache_put(pc, key, CV_CONV_ALGO_DIRECT, i));
    CV_ASSERT(count_lines(path) <= 2 * 8 + 1);   /* the file is compacted, never unbounded */
  }
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 8);
  cv_plan_cache_close(pc);
  /* a file longer than the bound loads its newest entries */
  CV_ASSERT_OK(cv_plan_cache_open(path, 4, &pc));
  CV_ASSERT_EQ(cv_plan_cache_count(pc), 4);
  CV_ASSERT(cv_plan_cache_get(pc, "many99", &a, NULL));
  CV_ASSERT(!cv_plan_cache_get(pc, "many0", &a, NULL));
  cv_plan_cache_close(pc);
  rm_rf(dir);
}

#define N_THREADS 8
#define PER_THREAD 200

typedef struct arg_s {
  cv_plan_cache_t *pc;
  int t;
} arg_t;

static void *hammer(void *p) {
  arg_t *arg = p;
  char key[64];
  for (int i = 0; i < PER_THREAD; i++) {
    snprintf(key, sizeof key, "t%d/k%d", arg->t, i % 50);
    if (cv_plan_cache_put(arg->pc, key, (cv_conv_algo_t)(1 + (i % 5)), i) != 0) abort();
    cv_conv_algo_t a;
    snprintf(key, sizeof key, "t%d/k%d", (arg->t + 1) % N_THREADS, i % 50);
    (void)cv_plan_cache_get(arg->pc, key, &a, NULL);
  }
  return NULL;
}

static void test_concurrent_insert(void) {
  char *dir = tmp_dir(), path[256];
  snprintf(path, sizeof path, "%s/p.tsv", dir);
  cv_plan_cache_t *pc;
  CV_ASSERT_OK(cv_plan_cache_open(path, 1000, &pc));
  pthread_t th[N_THREADS];
  arg_t args[N_THREADS];
  for (int t = 0; t < N_THREADS; t++) {
    args[t] = (arg_t){pc, t};
    CV_ASSERT_EQ(pthread_create(&th[t], NULL, hammer, &args[t]), 0);
  }
  for (int t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
  CV_ASSERT_EQ(cv_plan_cache_count(pc), N_THREADS * 50);
  cv_plan_cache_close(pc);
  /* every line in the file is whole: a reload finds every key, with the last value written */
  CV_ASSERT_OK(cv_plan_cache_open(path, 1000, &pc));
  CV_ASSERT_EQ(cv_plan_cache_count(pc), N_THREADS * 50);
  cv_conv_algo_t a;
  double ms;
  CV_ASSERT(cv_plan_cache_get(pc, "t3/k49", &a, &ms));
  CV_ASSERT_NEAR(ms, 199, 1e-9);
  CV_ASSERT_EQ(a, (cv_conv_algo_t)(1 + (199 % 5)));
  cv_plan_cache_close(pc);
  rm_rf(dir);
}

static void test_path_under_data_dir(void) {
  char *dir = tmp_dir(), path[512];
  CV_ASSERT_OK(cv_plan_cache_path(dir, "NVIDIA H100 80GB HBM3", path, sizeof path));
  char want[512];
  snprintf(want, sizeof want, "%s/plans/conv-NVIDIA_H100_80GB_HBM3.tsv", dir);
  CV_ASSERT_STREQ(path, want);
  struct stat st;
  snprintf(want, sizeof want, "%s/plans", dir);
  CV_ASSERT(stat(want, &st) == 0 && S_ISDIR(st.st_mode));
  CV_ASSERT_OK(cv_plan_cache_path(dir, "../../etc/x", path, sizeof path));   /* no escape */
  CV_ASSERT(strstr(path, "/plans/conv-.._.._etc_x.tsv") != NULL);
  CV_ASSERT_EQ(cv_plan_cache_path(dir, "gpu", path, 8), -CV_EINVALID_ARGUMENT);
  rm_rf(dir);
}

#define CV_TEST_LIST(XX)                                                                            \
  XX(round_trip) XX(corrupt_lines_are_ignored) XX(bounded_size) XX(concurrent_insert) XX(path_under_data_dir)
CV_TEST_MAIN(CV_TEST_LIST)
