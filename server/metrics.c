/* metrics.c — recording (relaxed atomics, CAS for histogram sums) and the
 * Prometheus text rendering of convoyd's metrics, process_* read from
 * /proc/self. Recording runs on MHD and worker threads; rendering on the
 * MHD thread that serves GET /metrics. Nothing here takes a lock. */
#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../proto/errors.h"

/* ---- bucket tables ---- */

static const double seconds_bounds[CV_METRICS_SECONDS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
static const double batch_bounds[CV_METRICS_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
_Static_assert(CV_METRICS_SECONDS_BUCKETS <= CV_METRICS_BUCKETS_MAX, "seconds buckets fit");
_Static_assert(CV_METRICS_BATCH_BUCKETS <= CV_METRICS_BUCKETS_MAX, "batch buckets fit");

#define RELAXED memory_order_relaxed

static void hist_observe(cv_metrics_hist_t *h, const double *bounds, int n, double v) {
  if (!(v >= 0)) v = 0;   /* negative and NaN */
  int i = 0;
  while (i < n && v > bounds[i]) i++;
  atomic_fetch_add_explicit(&h->bucket[i], 1, RELAXED);
  uint64_t old = atomic_load_explicit(&h->sum_bits, RELAXED), nw;
  do {
    double d;
    memcpy(&d, &old, sizeof d);
    d += v;
    memcpy(&nw, &d, sizeof nw);
  } while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, nw, RELAXED, RELAXED));
}

/* ---- lifecycle ---- */

/* Process start from /proc/self/stat field 22 (clock ticks after boot) and
 * /proc/stat btime; the time of init when either is unreadable. */
static double process_start_time(void);

int cv_metrics_init(cv_metrics_t *m, const char *const *routes, int n_routes, const char *version) {
  memset(m, 0, sizeof *m);
  if (n_routes < 0 || n_routes > CV_METRICS_ROUTES_MAX || (n_routes > 0 && !routes))
    return -CV_EINVALID_ARGUMENT;
  for (int i = 0; i < n_routes; i++)
    if (!routes[i]) return -CV_EINVALID_ARGUMENT;
  size_t nr = (size_t)n_routes + 1;
  m->http_requests = calloc(nr * CV_METRICS_STATUS_SLOTS, sizeof *m->http_requests);
  m->http_duration = calloc(nr, sizeof *m->http_duration);
  if (!m->http_requests || !m->http_duration) {
    free(m->http_requests);
    free(m->http_duration);
    memset(m, 0, sizeof *m);
    return -CV_EOUT_OF_MEMORY;
  }
  m->routes = routes;
  m->n_routes = n_routes;
  snprintf(m->version, sizeof m->version, "%s", version ? version : "");
  m->start_time_s = process_start_time();
  m->inited = true;
  return 0;
}

void cv_metrics_close(cv_metrics_t *m) {
  if (!m->inited) return;
  free(m->http_requests);
  free(m->http_duration);
  memset(m, 0, sizeof *m);
}

/* ---- recording ---- */

void cv_metrics_http(cv_metrics_t *m, int route_index, int status, double duration_s,
                     uint64_t bytes_in, uint64_t bytes_out) {
  if (!m->inited) return;
  int r = route_index >= 0 && route_index < m->n_routes ? route_index : m->n_routes;
  int slot = status - CV_METRICS_STATUS_MIN;
  if (slot >= 0 && slot < CV_METRICS_STATUS_SLOTS)
    atomic_fetch_add_explicit(&m->http_requests[(size_t)r * CV_METRICS_STATUS_SLOTS + slot], 1,
                              RELAXED);
  hist_observe(&m->http_duration[r], seconds_bounds, CV_METRICS_SECONDS_BUCKETS, duration_s);
  if (bytes_in) atomic_fetch_add_explicit(&m->bytes_in, bytes_in, RELAXED);
  if (bytes_out) atomic_fetch_add_explicit(&m->bytes_out, bytes_out, RELAXED);
}

void cv_metrics_job(cv_metrics_t *m, cv_op_t op, cv_job_state_t state, double queue_s,
                    double run_s, int batch_size) {
  if (!m->inited) return;
  if ((unsigned)op >= CV_OP_COUNT || (unsigned)state >= CV_JOB_STATE_COUNT) return;
  atomic_fetch_add_explicit(&m->jobs[op][state], 1, RELAXED);
  if (queue_s >= 0)
    hist_observe(&m->job_queue[op], seconds_bounds, CV_METRICS_SECONDS_BUCKETS, queue_s);
  if (run_s >= 0) hist_observe(&m->job_run[op], seconds_bounds, CV_METRICS_SECONDS_BUCKETS, run_s);
  if (batch_size > 0)
    hist_observe(&m->batch_size, batch_bounds, CV_METRICS_BATCH_BUCKETS, (double)batch_size);
}

/* ---- text buffer ---- */

typedef struct {
  char *p;
  size_t len, cap;
  bool oom;
} buf_t;

__attribute__((format(printf, 2, 3))) static void bprintf(buf_t *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = true;
      return;
    }
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap * 2 > b->len + (size_t)n + 1 ? b->cap * 2 : b->len + (size_t)n + 1;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

/* A sample value or le bound: shortest of %.15g / %.17g that round-trips;
 * non-finite values as Prometheus spells them. */
static const char *fmt_num(char out[32], double v) {
  if (isnan(v)) return "NaN";
  if (isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  snprintf(out, 32, "%.15g", v);
  if (strtod(out, NULL) != v) snprintf(out, 32, "%.17g", v);
  return out;
}

/* A label value with \, " and newline escaped (format 0.0.4). */
static const char *fmt_label(char *out, size_t cap, const char *s) {
  size_t k = 0;
  for (; *s && k + 3 < cap; s++) {
    char c = *s;
    if (c == '\\' || c == '"' || c == '\n') {
      out[k++] = '\\';
      c = c == '\n' ? 'n' : c;
    }
    out[k++] = c;
  }
  out[k] = '\0';
  return out;
}

static void family(buf_t *b, const char *name, const char *type, const char *help) {
  bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram's series; labels is "" or `key="value"` (already escaped). */
static void hist_render(buf_t *b, const char *name, const char *labels, cv_metrics_hist_t *h,
                        const double *bounds, int n) {
  const char *sep = labels[0] ? "," : "";
  char num[32];
  uint64_t cum = 0;
  for (int i = 0; i <= n; i++) {
    cum += atomic_load_explicit(&h->bucket[i], RELAXED);
    bprintf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
            i < n ? fmt_num(num, bounds[i]) : "+Inf", (unsigned long long)cum);
  }
  uint64_t bits = atomic_load_explicit(&h->sum_bits, RELAXED);
  double sum;
  memcpy(&sum, &bits, sizeof sum);
  const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
  bprintf(b, "%s_sum%s%s%s %s\n", name, open, labels, close, fmt_num(num, sum));
  /* _count is the +Inf bucket, so one scrape is self-consistent */
  bprintf(b, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)cum);
}

static uint64_t hist_count(cv_metrics_hist_t *h) {
  uint64_t n = 0;
  for (int i = 0; i <= CV_METRICS_BUCKETS_MAX; i++) n += atomic_load_explicit(&h->bucket[i], RELAXED);
  return n;
}

/* ---- process_* from /proc/self ---- */

typedef struct {
  bool ok;
  double cpu_s, start_s;
  unsigned long long vsize, rss_bytes;
} proc_stat_t;

/* /proc/self/stat: fields after "(comm)" are 3 state, … 14 utime, 15 stime,
 * 22 starttime (ticks), 23 vsize (bytes), 24 rss (pages). */
static proc_stat_t read_proc_stat(void) {
  proc_stat_t ps = {0};
  char text[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f) return ps;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  char *p = strrchr(text, ')');
  if (!p) return ps;
  unsigned long long field[25] = {0};
  p += 2;                      /* ") " */
  if (*p) p++;                 /* field 3, state: one character */
  for (int i = 4; i <= 24; i++) {
    char *end;
    field[i] = strtoull(p, &end, 10);
    if (end == p) return ps;
    p = end;
  }
  long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  if (tck <= 0 || page <= 0) return ps;
  ps.cpu_s = (double)(field[14] + field[15]) / (double)tck;
  ps.start_s = (double)field[22] / (double)tck;   /* since boot */
  ps.vsize = field[23];
  ps.rss_bytes = field[24] * (unsigned long long)page;
  ps.ok = true;
  return ps;
}

static double process_start_time(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  double fallback = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
  proc_stat_t ps = read_proc_stat();
  FILE *f = fopen("/proc/stat", "r");
  if (!ps.ok || !f) {
    if (f) fclose(f);
    return fallback;
  }
  char line[256];
  unsigned long long btime = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "btime %llu", &btime) == 1) break;
  fclose(f);
  return btime ? (double)btime + ps.start_s : fallback;
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0, own = dirfd(d);
  char self[16];
  snprintf(self, sizeof self, "%d", own);
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.' && strcmp(e->d_name, self) != 0) n++;
  closedir(d);
  return n;
}

static void render_process(buf_t *b, const cv_metrics_t *m) {
  char num[32];
  proc_stat_t ps = read_proc_stat();
  if (ps.ok) {
    family(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    bprintf(b, "process_cpu_seconds_total %s\n", fmt_num(num, ps.cpu_s));
    family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    bprintf(b, "process_resident_memory_bytes %llu\n", ps.rss_bytes);
    family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    bprintf(b, "process_virtual_memory_bytes %llu\n", ps.vsize);
  }
  int fds = open_fds();
  if (fds >= 0) {
    family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
    bprintf(b, "process_open_fds %d\n", fds);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    if (rl.rlim_cur == RLIM_INFINITY)
      bprintf(b, "process_max_fds +Inf\n");
    else
      bprintf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
  }
  family(b, "process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.");
  bprintf(b, "process_start_time_seconds %s\n", fmt_num(num, m->start_time_s));
}

/* ---- rendering ---- */

static void render_http(buf_t *b, cv_metrics_t *m) {
  char route[512], lbl[600];
  family(b, "convoy_http_requests_total", "counter", "HTTP requests by route template and status code.");
  for (int r = 0; r <= m->n_routes; r++) {
    fmt_label(route, sizeof route, r < m->n_routes ? m->routes[r] : "other");
    for (int k = 0; k < CV_METRICS_STATUS_SLOTS; k++) {
      uint64_t n = atomic_load_explicit(&m->http_requests[(size_t)r * CV_METRICS_STATUS_SLOTS + k], RELAXED);
      if (n)
        bprintf(b, "convoy_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", route,
                k + CV_METRICS_STATUS_MIN, (unsigned long long)n);
    }
  }
  family(b, "convoy_http_request_duration_seconds", "histogram",
         "HTTP request duration in seconds, by route template.");
  for (int r = 0; r <= m->n_routes; r++) {
    if (hist_count(&m->http_duration[r]) == 0) continue;
    fmt_label(route, sizeof route, r < m->n_routes ? m->routes[r] : "other");
    snprintf(lbl, sizeof lbl, "route=\"%s\"", route);
    hist_render(b, "convoy_http_request_duration_seconds", lbl, &m->http_duration[r],
                seconds_bounds, CV_METRICS_SECONDS_BUCKETS);
  }
}

static bool state_final(int s) {
  return s == CV_JOB_SUCCEEDED || s == CV_JOB_FAILED || s == CV_JOB_CANCELLED;
}

static void render_jobs(buf_t *b, cv_metrics_t *m, const cv_metrics_gauges_t *g) {
  char lbl[64];
  family(b, "convoy_jobs_total", "counter", "Jobs that ended, by op and final state.");
  for (int op = 0; op < CV_OP_COUNT; op++)
    for (int s = 0; s < CV_JOB_STATE_COUNT; s++) {
      uint64_t n = atomic_load_explicit(&m->jobs[op][s], RELAXED);
      if (n || state_final(s))   /* final states always, so rate() starts at 0 */
        bprintf(b, "convoy_jobs_total{op=\"%s\",state=\"%s\"} %llu\n", cv_op_name((cv_op_t)op),
                cv_job_state_name((cv_job_state_t)s), (unsigned long long)n);
    }
  family(b, "convoy_jobs_queued", "gauge", "Accepted jobs waiting in the queue.");
  bprintf(b, "convoy_jobs_queued %lld\n", (long long)(g ? g->jobs_queued : 0));
  family(b, "convoy_jobs_running", "gauge", "Jobs running on a device.");
  bprintf(b, "convoy_jobs_running %lld\n", (long long)(g ? g->jobs_running : 0));
  family(b, "convoy_job_queue_seconds", "histogram", "Time jobs spent queued in seconds, by op.");
  for (int op = 0; op < CV_OP_COUNT; op++) {
    snprintf(lbl, sizeof lbl, "op=\"%s\"", cv_op_name((cv_op_t)op));
    hist_render(b, "convoy_job_queue_seconds", lbl, &m->job_queue[op], seconds_bounds,
                CV_METRICS_SECONDS_BUCKETS);
  }
  family(b, "convoy_job_run_seconds", "histogram", "Time jobs spent running in seconds, by op.");
  for (int op = 0; op < CV_OP_COUNT; op++) {
    snprintf(lbl, sizeof lbl, "op=\"%s\"", cv_op_name((cv_op_t)op));
    hist_render(b, "convoy_job_run_seconds", lbl, &m->job_run[op], seconds_bounds,
                CV_METRICS_SECONDS_BUCKETS);
  }
  family(b, "convoy_batch_size", "histogram", "Jobs per backend call, observed once per job.");
  hist_render(b, "convoy_batch_size", "", &m->batch_size, batch_bounds, CV_METRICS_BATCH_BUCKETS);
}

static void render_bytes_devices(buf_t *b, cv_metrics_t *m, const cv_metrics_gauges_t *g) {
  char num[32], dev[128];
  family(b, "convoy_bytes_in_total", "counter", "HTTP request body bytes received.");
  bprintf(b, "convoy_bytes_in_total %llu\n",
          (unsigned long long)atomic_load_explicit(&m->bytes_in, RELAXED));
  family(b, "convoy_bytes_out_total", "counter", "HTTP response body bytes sent.");
  bprintf(b, "convoy_bytes_out_total %llu\n",
          (unsigned long long)atomic_load_explicit(&m->bytes_out, RELAXED));
  int nd = g && g->devices ? g->n_devices : 0;
  family(b, "convoy_device_memory_used_bytes", "gauge", "Memory in use on each device in bytes.");
  for (int i = 0; i < nd; i++)
    if (!g->devices[i].memory_unknown)
      bprintf(b, "convoy_device_memory_used_bytes{device=\"%s\"} %llu\n",
            fmt_label(dev, sizeof dev, g->devices[i].id ? g->devices[i].id : ""),
            (unsigned long long)g->devices[i].memory_used_bytes);
  family(b, "convoy_device_utilization_ratio", "gauge", "Busy fraction of each device, 0 to 1.");
  for (int i = 0; i < nd; i++)   /* unknown (NaN) is an absent series, not a NaN sample */
    if (!isnan(g->devices[i].utilization))
      bprintf(b, "convoy_device_utilization_ratio{device=\"%s\"} %s\n",
            fmt_label(dev, sizeof dev, g->devices[i].id ? g->devices[i].id : ""),
            fmt_num(num, g->devices[i].utilization));
  family(b, "convoy_result_store_bytes", "gauge", "Bytes held by results and stored tensors.");
  bprintf(b, "convoy_result_store_bytes %llu\n",
          (unsigned long long)(g ? g->result_store_bytes : 0));
  family(b, "convoy_inflight_bytes", "gauge", "Input and output bytes of unfinished jobs.");
  bprintf(b, "convoy_inflight_bytes %llu\n", (unsigned long long)(g ? g->inflight_bytes : 0));
  family(b, "convoy_build_info", "gauge", "Build information; the value is always 1.");
  bprintf(b, "convoy_build_info{version=\"%s\"} 1\n", fmt_label(dev, sizeof dev, m->version));
}

int cv_metrics_render(cv_metrics_t *m, const cv_metrics_gauges_t *g, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (!m->inited) return -CV_EINVALID_ARGUMENT;
  buf_t b = {.cap = 16384};
  b.p = malloc(b.cap);
  if (!b.p) return -CV_EOUT_OF_MEMORY;
  render_http(&b, m);
  render_jobs(&b, m, g);
  render_bytes_devices(&b, m, g);
  render_process(&b, m);
  if (b.oom) {
    free(b.p);
    return -CV_EOUT_OF_MEMORY;
  }
  *out = b.p;
  *len = b.len;
  return 0;
}
