/* backend_cpu.c — the CPU backend: its vtable, device discovery (model name,
 * usable memory incl. cgroup limits, threads) and batch execution. A batch of
 * small items runs items in parallel (one thread each); large items run one
 * after another, each with all threads. Called by the CPU worker thread. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../backend.h"
#include "../slab.h"
#include "cpu.h"

/* Items below this many bytes (in + out) run one per thread... */
#define CV_CPU_SMALL_ITEM_BYTES (1u << 20)
/* ...unless the whole batch is below this: then the worker thread runs it
 * alone, since waking a thread team costs more than the work. */
#define CV_CPU_SERIAL_BATCH_BYTES (1u << 20)

static bool cpu_supports(const cv_device_t *dev, const cv_op_params_t *p, const cv_io_t *in, int n_in) {
  if (p->op == CV_OP_CONV) return cv_cpu_conv_check(&p->u.conv, in, n_in, NULL) == 0;
  return (unsigned)p->op < CV_OP_COUNT;
}

static int cpu_explain(const cv_device_t *dev, const cv_op_params_t *p, const cv_io_t *in, int n_in,
                       cv_error_t *err) {
  if (p->op == CV_OP_CONV) {
    int rc = cv_cpu_conv_check(&p->u.conv, in, n_in, err);
    if (rc) return rc;
  }
  return cv_error_set(err, CV_EUNSUPPORTED_OP, "op", "the CPU backend cannot run this %s job", cv_op_name(p->op));
}

static int run_whole(cv_work_t *w, int threads) {
  const cv_op_params_t *p = w->params;
  int rc = -CV_EUNSUPPORTED_OP;
  switch (p->op) {
    case CV_OP_DWT: rc = cv_cpu_dwt(&p->u.dwt, w->in, w->n_in, w->out, w->n_out, threads, &w->err); break;
    case CV_OP_IDWT: rc = cv_cpu_idwt(&p->u.dwt, w->in, w->n_in, w->out, w->n_out, threads, &w->err); break;
    case CV_OP_SEPCONV:
      rc = cv_cpu_sepconv(&p->u.sepconv, w->in, w->n_in, w->out, w->n_out, threads, &w->err);
      break;
    case CV_OP_CONV: rc = cv_cpu_conv(&p->u.conv, w->in, w->n_in, w->out, w->n_out, threads, &w->err); break;
    case CV_OP_COUNT: break;
  }
  return rc;
}

typedef struct item_ctx_s {
  int threads;
} item_ctx_t;

static int run_one(void *ctx, cv_work_t *w) {
  const item_ctx_t *c = ctx;
  return w->rc = run_whole(w, c->threads);
}

/* Whole, or in slabs when the device has a budget the item exceeds (only
 * tests set one on the CPU: it proves the slab path against this one). */
static int run_item(const cv_device_t *dev, cv_work_t *w, int threads) {
  item_ctx_t c = {threads};
  return cv_slab_run(w, dev->budget_bytes, run_one, &c);
}

static size_t item_bytes(const cv_work_t *w) {
  size_t b = 0;
  for (int i = 0; i < w->n_in; i++) b += cv_array_nbytes(&w->in[i].a);
  for (int i = 0; i < w->n_out; i++) b += cv_array_nbytes(&w->out[i].a);
  return b;
}

static int cpu_run(cv_device_t *dev, cv_batch_t *b) {
  int threads = dev->threads > 0 ? dev->threads : 1;
  if (b->max_threads > 0 && b->max_threads < threads) threads = b->max_threads;
  bool small = b->n > 1;
  size_t total = 0;
  for (int i = 0; small && i < b->n; i++) {
    size_t n = item_bytes(&b->items[i]);
    small = n < CV_CPU_SMALL_ITEM_BYTES;
    total += n;
  }
  if (small && total < CV_CPU_SERIAL_BATCH_BYTES) {
    for (int i = 0; i < b->n; i++) b->items[i].rc = run_item(dev, &b->items[i], 1);
  } else if (small && threads > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int i = 0; i < b->n; i++) b->items[i].rc = run_item(dev, &b->items[i], 1);
  } else {
    for (int i = 0; i < b->n; i++) b->items[i].rc = run_item(dev, &b->items[i], threads);
  }
  return 0;
}

static int cpu_alloc(cv_device_t *dev, size_t n, void **out) {
  void *p = NULL;
  if (posix_memalign(&p, 64, n ? n : 64)) return -CV_EOUT_OF_MEMORY;
  *out = p;
  return 0;
}

static void cpu_free(cv_device_t *dev, void *p) { free(p); }

static int cpu_copy(cv_device_t *dev, void *dst, const void *src, size_t n, cv_copy_dir_t dir) {
  memcpy(dst, src, n);
  return 0;
}

static void cpu_close(cv_device_t *dev) {}

/* The process's resident memory (/proc/self/statm, field 2): what convoy
 * holds on the host — inputs, outputs, the buffer pool and the result store.
 * Utilisation is unknown here (NaN): the server measures CPU time itself. */
static int cpu_stats(cv_device_t *dev, cv_device_stats_t *st) {
  unsigned long long size = 0, resident = 0;
  long page = sysconf(_SC_PAGESIZE);
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -CV_EINTERNAL;
  int got = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  if (got != 2 || page <= 0) return -CV_EINTERNAL;
  st->memory_used_bytes = resident * (unsigned long long)page;
  st->utilization = NAN;
  return 0;
}

static const struct cv_backend_i cpu_backend = {
    .name = "cpu",
    .supports = cpu_supports,
    .run = cpu_run,
    .explain = cpu_explain,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy = cpu_copy,
    .close = cpu_close,
    .stats = cpu_stats,
};

/* ---- discovery ---- */

static void cpu_model(char *buf, size_t cap) {
  snprintf(buf, cap, "cpu");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "model name", 10) == 0) {
      char *c = strchr(line, ':');
      if (c) {
        c++;
        while (*c == ' ' || *c == '\t') c++;
        c[strcspn(c, "\n")] = 0;
        snprintf(buf, cap, "%s", c);
      }
      break;
    }
  fclose(f);
}

/* RAM, or a smaller cgroup (v2 memory.max, v1 limit_in_bytes) limit. */
static uint64_t usable_memory(void) {
  uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  const char *paths[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    FILE *f = fopen(paths[i], "r");
    if (!f) continue;
    unsigned long long v;
    if (fscanf(f, "%llu", &v) == 1 && v > 0 && v < ram) ram = v;
    fclose(f);
  }
  return ram;
}

int cv_cpu_device_open(cv_device_t *dev, int threads) {
  memset(dev, 0, sizeof *dev);
  dev->backend = &cpu_backend;
  snprintf(dev->id, sizeof dev->id, "cpu");
  snprintf(dev->kind, sizeof dev->kind, "cpu");
  cpu_model(dev->name, sizeof dev->name);
  dev->memory_bytes = usable_memory();
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  dev->threads = threads > 0 ? threads : (cores > 0 ? (int)cores : 1);
  return 0;
}
