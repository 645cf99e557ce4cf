/* test_metrics.c — the Prometheus registry: exact counter, histogram and
 * gauge lines, route "other", label escaping, a structural lint of the full
 * text (HELP/TYPE before samples, cumulative buckets ending in +Inf = _count),
 * process_* sanity, and lock-free counting from 4 threads. format_lint also
 * writes the text to $CONVOY_METRICS_DUMP for promtool_check.sh. */
#include <pthread.h>
#include <time.h>

#include "../../server/metrics.h"
#include "runner.h"

static const char *const routes[] = {"/v1/jobs", "/v1/jobs/{id}", "/metrics"};

static void open_m(cv_metrics_t *m) {
  CV_ASSERT_OK(cv_metrics_init(m, routes, 3, "0.1.0"));
}

static char *render(cv_metrics_t *m, const cv_metrics_gauges_t *g) {
  char *text;
  size_t len;
  CV_ASSERT_OK(cv_metrics_render(m, g, &text, &len));
  CV_ASSERT_EQ(strlen(text), len);
  CV_ASSERT(len > 0 && text[len - 1] == '\n');
  return text;
}

/* True when text has exactly this line. */
static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)); p++)
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
  return false;
}

#define ASSERT_LINE(text, line) \
  do { if (!has_line(text, line)) CV_FAIL_("missing line: %s\n%s", line, text); } while (0)
#define ASSERT_NO(text, s) \
  do { if (strstr(text, s)) CV_FAIL_("unexpected: %s", s); } while (0)

static void test_http_counters(void) {
  cv_metrics_t m;
  open_m(&m);
  cv_metrics_http(&m, 1, 200, 0.003, 100, 2000);
  cv_metrics_http(&m, 1, 200, 0.004, 50, 1000);
  cv_metrics_http(&m, 1, 404, 0.001, 0, 90);
  cv_metrics_http(&m, 0, 202, 0.002, 10, 5);
  cv_metrics_http(&m, 99, 404, 0.001, 0, 0);   /* unmatched path */
  cv_metrics_http(&m, -1, 405, 0.001, 0, 0);
  cv_metrics_http(&m, 2, 999, 0.001, 0, 0);    /* not a status: not counted */
  char *t = render(&m, NULL);
  ASSERT_LINE(t, "# HELP convoy_http_requests_total HTTP requests by route template and status code.");
  ASSERT_LINE(t, "# TYPE convoy_http_requests_total counter");
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"/v1/jobs/{id}\",code=\"200\"} 2");
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"/v1/jobs/{id}\",code=\"404\"} 1");
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"/v1/jobs\",code=\"202\"} 1");
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"other\",code=\"404\"} 1");
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"other\",code=\"405\"} 1");
  ASSERT_NO(t, "code=\"999\"");
  ASSERT_NO(t, "convoy_http_requests_total{route=\"/metrics\"");
  ASSERT_LINE(t, "convoy_bytes_in_total 160");
  ASSERT_LINE(t, "convoy_bytes_out_total 3095");
  ASSERT_LINE(t, "# TYPE convoy_bytes_in_total counter");
  /* duration histogram by route: 0.003 and 0.004 fall in le=0.005 */
  ASSERT_LINE(t, "convoy_http_request_duration_seconds_bucket{route=\"/v1/jobs/{id}\",le=\"0.0025\"} 1");
  ASSERT_LINE(t, "convoy_http_request_duration_seconds_bucket{route=\"/v1/jobs/{id}\",le=\"0.005\"} 3");
  ASSERT_LINE(t, "convoy_http_request_duration_seconds_bucket{route=\"/v1/jobs/{id}\",le=\"+Inf\"} 3");
  ASSERT_LINE(t, "convoy_http_request_duration_seconds_count{route=\"/v1/jobs/{id}\"} 3");
  ASSERT_LINE(t, "convoy_http_request_duration_seconds_count{route=\"/metrics\"} 1");
  free(t);
  cv_metrics_close(&m);
  cv_metrics_close(&m);
}

static void test_job_histograms(void) {
  cv_metrics_t m;
  open_m(&m);
  /* exactly representable values, so the sums print exactly */
  cv_metrics_job(&m, CV_OP_DWT, CV_JOB_SUCCEEDED, 0.000244140625, 0.015625, 3);
  cv_metrics_job(&m, CV_OP_DWT, CV_JOB_FAILED, 0.5, 70, 1);
  cv_metrics_job(&m, CV_OP_CONV, CV_JOB_CANCELLED, 2, -1, 0);   /* never ran */
  cv_metrics_job(&m, CV_OP_COUNT, CV_JOB_SUCCEEDED, 1, 1, 1);    /* ignored */
  char *t = render(&m, NULL);
  ASSERT_LINE(t, "# TYPE convoy_job_queue_seconds histogram");
  static const char *const queue_dwt[] = {
      "convoy_job_queue_seconds_bucket{op=\"dwt\",le=\"0.0001\"} 0",
      "convoy_job_queue_seconds_bucket{op=\"dwt\",le=\"0.00025\"} 1",
      "convoy_job_queue_seconds_bucket{op=\"dwt\",le=\"0.0005\"} 1",
      "convoy_job_queue_seconds_bucket{op=\"dwt\",le=\"0.25\"} 1",
      "convoy_job_queue_seconds_bucket{op=\"dwt\",le=\"0.5\"} 2",
      "convoy_job_queue_seconds_bucket{op=\"dwt\",le=\"60\"} 2",
      "convoy_job_queue_seconds_bucket{op=\"dwt\",le=\"+Inf\"} 2",
      "convoy_job_queue_seconds_sum{op=\"dwt\"} 0.500244140625",
      "convoy_job_queue_seconds_count{op=\"dwt\"} 2",
      "convoy_job_run_seconds_bucket{op=\"dwt\",le=\"0.01\"} 0",
      "convoy_job_run_seconds_bucket{op=\"dwt\",le=\"0.025\"} 1",
      "convoy_job_run_seconds_bucket{op=\"dwt\",le=\"60\"} 1",
      "convoy_job_run_seconds_bucket{op=\"dwt\",le=\"+Inf\"} 2",
      "convoy_job_run_seconds_sum{op=\"dwt\"} 70.015625",
      "convoy_job_run_seconds_count{op=\"dwt\"} 2",
      "convoy_job_queue_seconds_bucket{op=\"conv\",le=\"2.5\"} 1",
      "convoy_job_run_seconds_count{op=\"conv\"} 0",
      "convoy_job_run_seconds_sum{op=\"conv\"} 0",
      "convoy_batch_size_bucket{le=\"1\"} 1",
      "convoy_batch_size_bucket{le=\"2\"} 1",
      "convoy_batch_size_bucket{le=\"4\"} 2",
      "convoy_batch_size_bucket{le=\"256\"} 2",
      "convoy_batch_size_bucket{le=\"+Inf\"} 2",
      "convoy_batch_size_sum 4",
      "convoy_batch_size_count 2",
      "convoy_jobs_total{op=\"dwt\",state=\"succeeded\"} 1",
      "convoy_jobs_total{op=\"dwt\",state=\"failed\"} 1",
      "convoy_jobs_total{op=\"conv\",state=\"cancelled\"} 1",
      "convoy_jobs_total{op=\"sepconv\",state=\"succeeded\"} 0",   /* pre-declared */
  };
  for (size_t i = 0; i < sizeof queue_dwt / sizeof *queue_dwt; i++) ASSERT_LINE(t, queue_dwt[i]);
  ASSERT_NO(t, "state=\"queued\"");   /* non-final states only once counted */
  free(t);
  cv_metrics_close(&m);
}

static void test_gauges(void) {
  cv_metrics_t m;
  open_m(&m);
  /* cuda:1 knows its memory but not its utilisation; cuda:2 knows neither */
  cv_metrics_device_t devs[4] = {{"cpu", 1048576, 0.25, false}, {"cuda:0", 2000000000ull, 1, false},
                                 {"cuda:1", 5, NAN, false}, {"cuda:2", 0, NAN, true}};
  cv_metrics_gauges_t g = {.jobs_queued = 7, .jobs_running = 2, .inflight_bytes = 4096,
                           .result_store_bytes = 123456789012ull, .devices = devs, .n_devices = 4};
  char *t = render(&m, &g);
  ASSERT_LINE(t, "# TYPE convoy_jobs_queued gauge");
  ASSERT_LINE(t, "convoy_jobs_queued 7");
  ASSERT_LINE(t, "convoy_jobs_running 2");
  ASSERT_LINE(t, "convoy_inflight_bytes 4096");
  ASSERT_LINE(t, "convoy_result_store_bytes 123456789012");
  ASSERT_LINE(t, "convoy_device_memory_used_bytes{device=\"cpu\"} 1048576");
  ASSERT_LINE(t, "convoy_device_memory_used_bytes{device=\"cuda:0\"} 2000000000");
  ASSERT_LINE(t, "convoy_device_utilization_ratio{device=\"cpu\"} 0.25");
  ASSERT_LINE(t, "convoy_device_utilization_ratio{device=\"cuda:0\"} 1");
  ASSERT_LINE(t, "convoy_device_memory_used_bytes{device=\"cuda:1\"} 5");
  ASSERT_NO(t, "convoy_device_utilization_ratio{device=\"cuda:1\"}");
  ASSERT_NO(t, "device=\"cuda:2\"");
  ASSERT_NO(t, "NaN");
  ASSERT_LINE(t, "convoy_build_info{version=\"0.1.0\"} 1");
  free(t);
  t = render(&m, NULL);
  ASSERT_LINE(t, "convoy_jobs_queued 0");
  ASSERT_LINE(t, "# TYPE convoy_device_memory_used_bytes gauge");
  ASSERT_NO(t, "device=\"");
  free(t);
  cv_metrics_close(&m);
}

static void test_escaping_and_init(void) {
  static const char *const odd[] = {"/a\"b\\c\nd"};
  cv_metrics_t m;
  CV_ASSERT_OK(cv_metrics_init(&m, odd, 1, "v\"1"));
  cv_metrics_http(&m, 0, 200, 0, 0, 0);
  char *t = render(&m, NULL);
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 1");
  ASSERT_LINE(t, "convoy_build_info{version=\"v\\\"1\"} 1");
  free(t);
  cv_metrics_close(&m);
  static const char *const with_null[] = {"/x", NULL};
  CV_ASSERT_EQ(cv_metrics_init(&m, with_null, 2, "v"), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_metrics_init(&m, routes, -1, "v"), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_metrics_init(&m, routes, CV_METRICS_ROUTES_MAX + 1, "v"), -CV_EINVALID_ARGUMENT);
  char *out = (char *)1;
  size_t len;
  CV_ASSERT_EQ(cv_metrics_render(&m, NULL, &out, &len), -CV_EINVALID_ARGUMENT);
  CV_ASSERT(out == NULL);
  cv_metrics_http(&m, 0, 200, 0, 0, 0);   /* uninitialised: ignored, no crash */
  cv_metrics_close(&m);
  CV_ASSERT_OK(cv_metrics_init(&m, NULL, 0, NULL));   /* no routes: everything is "other" */
  cv_metrics_http(&m, 0, 204, 0, 0, 0);
  t = render(&m, NULL);
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"other\",code=\"204\"} 1");
  free(t);
  cv_metrics_close(&m);
}

/* ---- a structural lint of the whole text ---- */

typedef struct {
  char name[96], type[16];
} fam_t;

/* A populated registry: every family has samples. */
static void populate(cv_metrics_t *m) {
  for (int i = 0; i < 50; i++) {
    cv_metrics_http(m, i % 4, i % 3 ? 200 : 429, 1e-5 * (i * i), (uint64_t)i, 10);
    cv_metrics_job(m, (cv_op_t)(i % CV_OP_COUNT), (cv_job_state_t)(CV_JOB_SUCCEEDED + i % 3),
                   0.001 * i, 0.01 * i, 1 + i % 70);
  }
}

static void test_format_lint(void) {
  cv_metrics_t m;
  open_m(&m);
  populate(&m);
  cv_metrics_device_t devs[3] = {{"cpu", 1u << 30, 0.5, false}, {"cuda:0", 3ull << 30, 0.75, false},
                                 {"cuda:1", 1u << 20, NAN, false}};
  cv_metrics_gauges_t g = {3, 1, 1 << 20, 5 << 20, devs, 3};
  char *t = render(&m, &g);
  const char *dump = getenv("CONVOY_METRICS_DUMP");
  if (dump) {
    FILE *f = fopen(dump, "w");
    CV_ASSERT(f);
    CV_ASSERT_EQ(fwrite(t, 1, strlen(t), f), strlen(t));
    CV_ASSERT_EQ(fclose(f), 0);
  }
  fam_t fams[64];
  int nf = 0;
  char help_for[96] = "";
  double last_le = -1, last_cum = -1;
  char *save, *copy = strdup(t);
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char name[96], type[16];
    if (sscanf(line, "# HELP %95s", name) == 1) {
      snprintf(help_for, sizeof help_for, "%s", name);
      continue;
    }
    if (sscanf(line, "# TYPE %95s %15s", name, type) == 2) {
      CV_ASSERT_STREQ(name, help_for);   /* HELP right before TYPE */
      for (int i = 0; i < nf; i++) CV_ASSERT(strcmp(fams[i].name, name) != 0);
      bool counter = strcmp(type, "counter") == 0;
      size_t n = strlen(name);
      CV_ASSERT(counter == (n > 6 && strcmp(name + n - 6, "_total") == 0));
      CV_ASSERT(nf < 64);
      snprintf(fams[nf].name, sizeof fams[nf].name, "%s", name);
      snprintf(fams[nf].type, sizeof fams[nf].type, "%s", type);
      nf++;
      continue;
    }
    CV_ASSERT(line[0] != '#');
    CV_ASSERT(nf > 0);
    size_t n = strcspn(line, "{ ");
    CV_ASSERT(n < sizeof name);
    memcpy(name, line, n);
    name[n] = '\0';
    const fam_t *f = &fams[nf - 1];   /* samples follow their own family */
    if (strcmp(f->type, "histogram") == 0) {
      size_t fl = strlen(f->name);
      CV_ASSERT(strncmp(name, f->name, fl) == 0);
      const char *suffix = name + fl;
      const char *val = strrchr(line, ' ') + 1;
      if (strcmp(suffix, "_bucket") == 0) {
        const char *le = strstr(line, "le=\"");
        CV_ASSERT(le);
        double b = strncmp(le + 4, "+Inf", 4) == 0 ? INFINITY : strtod(le + 4, NULL);
        double cum = strtod(val, NULL);
        if (b <= last_le) last_cum = -1;   /* the next series starts */
        CV_ASSERT(cum >= last_cum);
        last_le = b, last_cum = cum;
      } else if (strcmp(suffix, "_count") == 0) {
        CV_ASSERT(isinf(last_le));   /* +Inf came last */
        CV_ASSERT_EQ(strtod(val, NULL), last_cum);
        last_le = -1, last_cum = -1;
      } else {
        CV_ASSERT_STREQ(suffix, "_sum");
      }
    } else {
      CV_ASSERT_STREQ(name, f->name);
    }
  }
  free(copy);
  const char *want[] = {"convoy_http_requests_total", "convoy_http_request_duration_seconds",
                        "convoy_jobs_total", "convoy_jobs_queued", "convoy_jobs_running",
                        "convoy_job_queue_seconds", "convoy_job_run_seconds", "convoy_batch_size",
                        "convoy_bytes_in_total", "convoy_bytes_out_total",
                        "convoy_device_memory_used_bytes", "convoy_device_utilization_ratio",
                        "convoy_result_store_bytes", "convoy_inflight_bytes", "convoy_build_info",
                        "process_cpu_seconds_total", "process_resident_memory_bytes",
                        "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                        "process_start_time_seconds"};
  CV_ASSERT_EQ(nf, (int)(sizeof want / sizeof *want));
  for (int i = 0; i < nf; i++) CV_ASSERT_STREQ(fams[i].name, want[i]);
  /* process_* are real: some fds open, a start time within the last day */
  const char *p = strstr(t, "\nprocess_open_fds ");
  CV_ASSERT(p && strtod(p + 18, NULL) >= 3);
  p = strstr(t, "\nprocess_start_time_seconds ");
  double start = strtod(p + 28, NULL);
  double now = (double)time(NULL);
  CV_ASSERT(start <= now + 2 && start > now - 86400);
  p = strstr(t, "\nprocess_resident_memory_bytes ");
  CV_ASSERT(p && strtod(p + 31, NULL) > 1e5);
  free(t);
  cv_metrics_close(&m);
}

/* ---- lock-free counting from several threads ---- */

#define HAMMER_THREADS 4
#define HAMMER_N 20000

static void *hammer(void *p) {
  cv_metrics_t *m = p;
  for (int i = 0; i < HAMMER_N; i++) {
    cv_metrics_http(m, 1, 200, 0.5, 3, 7);
    cv_metrics_job(m, CV_OP_SEPCONV, CV_JOB_SUCCEEDED, 0.25, 0.125, 2);
  }
  return NULL;
}

static void test_concurrent(void) {
  cv_metrics_t m;
  open_m(&m);
  pthread_t th[HAMMER_THREADS];
  for (int i = 0; i < HAMMER_THREADS; i++) CV_ASSERT_EQ(pthread_create(&th[i], NULL, hammer, &m), 0);
  for (int i = 0; i < HAMMER_THREADS; i++) pthread_join(th[i], NULL);
  char *t = render(&m, NULL);
  ASSERT_LINE(t, "convoy_http_requests_total{route=\"/v1/jobs/{id}\",code=\"200\"} 80000");
  ASSERT_LINE(t, "convoy_http_request_duration_seconds_sum{route=\"/v1/jobs/{id}\"} 40000");
  ASSERT_LINE(t, "convoy_bytes_in_total 240000");
  ASSERT_LINE(t, "convoy_jobs_total{op=\"sepconv\",state=\"succeeded\"} 80000");
  ASSERT_LINE(t, "convoy_job_queue_seconds_sum{op=\"sepconv\"} 20000");
  ASSERT_LINE(t, "convoy_job_run_seconds_sum{op=\"sepconv\"} 10000");
  ASSERT_LINE(t, "convoy_batch_size_bucket{le=\"2\"} 80000");
  free(t);
  cv_metrics_close(&m);
}

#define CV_TEST_LIST(XX) \
  XX(http_counters) XX(job_histograms) XX(gauges) XX(escaping_and_init) XX(format_lint) XX(concurrent)
CV_TEST_MAIN(CV_TEST_LIST)
