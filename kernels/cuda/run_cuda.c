/* run_cuda.c — the CUDA backend's run(): groups a batch into runs of jobs
 * with one shape and params, stacks each group along a leading axis so one
 * launch per pass serves all of it, uploads the inputs through the pinned
 * staging buffers (converting to the compute dtype on the way), runs the op
 * on the compute stream, downloads into the engine's host outputs, and
 * splits a group that runs out of device memory into single jobs. A job
 * over the device's memory budget runs in slabs (kernels/slab.h), each slab
 * a group of one; groups are cut to fit the budget too, and a job that
 * alone runs out of device memory is tried again in slabs.
 * Streams: upload, compute and download are ordered by events; each group
 * is synchronised before run() moves on (overlapping one group's transfers
 * with the next one's compute is a next step). Device worker thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../slab.h"
#include "backend_cuda.h"
#include "dwt.cuh"
#include "idwt.cuh"
#include "plan_cache.h"
#include "sepconv.cuh"

#define CV_CUDA_ALIGN 256      /* device offsets inside a group's block */
#define CV_CUDA_XFER_GAP 4096  /* device gaps up to this are copied rather than split */

/* ---- transfer lists ---- */

/* A host array ↔ a device range: n elements, converted hdt → ddt on upload
 * (downloads have hdt == ddt). */
typedef struct seg_s {
  size_t dev;
  void *host;
  cv_dtype_t hdt, ddt;
  size_t n;
} seg_t;

typedef struct segs_s {
  int n, cap;
  seg_t *s;
} segs_t;

static int seg_push(segs_t *l, size_t dev, const void *host, cv_dtype_t hdt, cv_dtype_t ddt, size_t n) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 16;
    seg_t *s = realloc(l->s, sizeof *s * (size_t)cap);
    if (!s) return -CV_EOUT_OF_MEMORY;
    l->s = s;
    l->cap = cap;
  }
  l->s[l->n++] = (seg_t){dev, (void *)host, hdt, ddt, n};
  return 0;
}

static size_t seg_bytes(const seg_t *s) { return s->n * cv_dtype_size(s->ddt); }

static int seg_cmp(const void *a, const void *b) {
  const seg_t *x = a, *y = b;
  return (x->dev > y->dev) - (x->dev < y->dev);
}

/* Copies the part of segment s inside device bytes [c0, c1) between the
 * staging chunk and the host array. */
static void seg_stage(const seg_t *s, char *stage, size_t c0, size_t c1, bool up) {
  size_t dsz = cv_dtype_size(s->ddt), hsz = cv_dtype_size(s->hdt);
  size_t sd = s->dev, se = s->dev + seg_bytes(s);
  size_t lo = sd > c0 ? sd : c0, hi = se < c1 ? se : c1;
  if (lo >= hi) return;
  size_t e0 = (lo - sd) / dsz, e1 = (hi - sd) / dsz;
  char *h = (char *)s->host + e0 * hsz;
  if (!up)
    memcpy(h, stage + (lo - c0), hi - lo);
  else if (s->hdt == s->ddt)
    memcpy(stage + (lo - c0), h, hi - lo);
  else
    cv_convert(stage + (lo - c0), s->ddt, h, s->hdt, e1 - e0);
}

/* Moves every segment between base (device) and the host, chunk by chunk
 * through the staging buffers; runs of nearby segments share chunks. A
 * download copies chunk k+1 while the host scatters chunk k. */
static int xfer(cv_cuda_ctx_t *ctx, char *base, segs_t *l, bool up) {
  int rc = 0, pk = -1, pi = 0, pj = 0;
  size_t pc0 = 0, pc1 = 0;
  cudaStream_t st = ctx->stream[up ? CV_CUDA_S_H2D : CV_CUDA_S_D2H];
  qsort(l->s, (size_t)l->n, sizeof *l->s, seg_cmp);
  for (int i = 0; i < l->n;) {
    size_t lo = l->s[i].dev, hi = lo + seg_bytes(&l->s[i]), dsz = cv_dtype_size(l->s[i].ddt);
    int j = i + 1;
    while (j < l->n && l->s[j].dev <= hi + CV_CUDA_XFER_GAP && cv_dtype_size(l->s[j].ddt) == dsz) {
      size_t e = l->s[j].dev + seg_bytes(&l->s[j]);
      if (e > hi) hi = e;
      j++;
    }
    for (size_t c0 = lo; c0 < hi; c0 += CV_CUDA_STAGE_BYTES) {
      size_t c1 = hi - c0 < CV_CUDA_STAGE_BYTES ? hi : c0 + CV_CUDA_STAGE_BYTES;
      int k = ctx->stage_next;
      ctx->stage_next = (k + 1) % CV_CUDA_STAGE_BUFS;
      char *stage = ctx->stage[k];
      CV_CUDA_TRY(cudaEventSynchronize(ctx->stage_ev[k]));
      if (up) {
        for (int q = i; q < j; q++) seg_stage(&l->s[q], stage, c0, c1, true);
        CV_CUDA_TRY(cudaMemcpyAsync(base + c0, stage, c1 - c0, cudaMemcpyHostToDevice, st));
        CV_CUDA_TRY(cudaEventRecord(ctx->stage_ev[k], st));
        continue;
      }
      CV_CUDA_TRY(cudaMemcpyAsync(stage, base + c0, c1 - c0, cudaMemcpyDeviceToHost, st));
      CV_CUDA_TRY(cudaEventRecord(ctx->stage_ev[k], st));
      if (pk >= 0) {
        CV_CUDA_TRY(cudaEventSynchronize(ctx->stage_ev[pk]));
        for (int q = pi; q < pj; q++) seg_stage(&l->s[q], ctx->stage[pk], pc0, pc1, false);
      }
      pk = k, pi = i, pj = j, pc0 = c0, pc1 = c1;
    }
    i = j;
  }
  if (pk >= 0) {
    CV_CUDA_TRY(cudaEventSynchronize(ctx->stage_ev[pk]));
    for (int q = pi; q < pj; q++) seg_stage(&l->s[q], ctx->stage[pk], pc0, pc1, false);
  }
fail:
  return rc;
}

/* ---- one group: block, uploads, launch, downloads ---- */

typedef struct group_s {
  size_t bytes;      /* device block */
  segs_t up, down;
  char *base;
} group_t;

static size_t take(group_t *g, size_t bytes) {
  size_t off = g->bytes;
  g->bytes += (bytes + CV_CUDA_ALIGN - 1) / CV_CUDA_ALIGN * CV_CUDA_ALIGN;
  return off;
}

/* Allocates the block on the compute stream and uploads into it. */
static int stage_in(cv_cuda_ctx_t *ctx, group_t *g, cv_cuda_ws_t *ws) {
  int rc = 0;
  void *p = NULL;
  CV_TRY(cv__cuda_ws_alloc(ws, g->bytes, &p));
  g->base = p;
  CV_CUDA_TRY(cudaEventRecord(ctx->ev_alloc, ctx->stream[CV_CUDA_S_COMPUTE]));
  CV_CUDA_TRY(cudaStreamWaitEvent(ctx->stream[CV_CUDA_S_H2D], ctx->ev_alloc, 0));
  CV_TRY(xfer(ctx, g->base, &g->up, true));
  CV_CUDA_TRY(cudaEventRecord(ctx->ev_up, ctx->stream[CV_CUDA_S_H2D]));
  CV_CUDA_TRY(cudaStreamWaitEvent(ctx->stream[CV_CUDA_S_COMPUTE], ctx->ev_up, 0));
fail:
  return rc;
}

static int stage_out(cv_cuda_ctx_t *ctx, group_t *g) {
  int rc = 0;
  CV_CUDA_TRY(cudaEventRecord(ctx->ev_comp, ctx->stream[CV_CUDA_S_COMPUTE]));
  CV_CUDA_TRY(cudaStreamWaitEvent(ctx->stream[CV_CUDA_S_D2H], ctx->ev_comp, 0));
  CV_TRY(xfer(ctx, g->base, &g->down, false));
fail:
  return rc;
}

static const cv_io_t *find_in(const cv_work_t *w, const char *name) {
  for (int i = 0; i < w->n_in; i++)
    if (strcmp(w->in[i].name, name) == 0) return &w->in[i];
  return NULL;
}

/* The real view of a compute dtype: float for f32/c64, double for f64/c128. */
static cv_dtype_t real_of(cv_dtype_t t) { return t == CV_DTYPE_F32 || t == CV_DTYPE_C64 ? CV_DTYPE_F32 : CV_DTYPE_F64; }

/* shape = [B, s..., 2 when complex]; returns the rank */
static int real_view(int64_t *shape, int B, const int64_t *s, int ndim, bool cplx) {
  shape[0] = B;
  memcpy(shape + 1, s, sizeof(int64_t) * (size_t)ndim);
  if (cplx) shape[ndim + 1] = 2;
  return ndim + 1 + (cplx ? 1 : 0);
}

/* Queues the download of item r's output o from stack band `band` (items
 * stacked inside the band), checking its size. */
static int down_item(group_t *g, cv_io_t *o, size_t band_off, int64_t item_elems, cv_dtype_t rdt, int r) {
  size_t es = cv_dtype_size(rdt), bytes = (size_t)item_elems * es;
  if (cv_array_nbytes(&o->a) != bytes) return -CV_EINTERNAL;
  return seg_push(&g->down, band_off + (size_t)r * bytes, o->a.data, rdt, rdt, (size_t)item_elems);
}

/* ---- dwt ---- */

static int run_dwt(cv_cuda_ctx_t *ctx, cv_work_t *it, int B, group_t *g, cv_cuda_ws_t *ws) {
  const cv_dwt_params_t *p = &it[0].params->u.dwt;
  const cv_io_t *x = find_in(&it[0], "x");
  int rc = 0, L = p->level, n = p->n_axes, per = (1 << n) - 1;
  if (!x) return -CV_EINTERNAL;
  cv_dtype_t pt = cv_dtype_promote_wavelet(x->a.dtype), rdt = real_of(pt);
  size_t numel = (size_t)cv_shape_numel(x->a.shape, x->a.ndim);
  for (int r = 0; r < B; r++)
    if (it[r].n_out != 1 + L * per || it[r].out[0].a.dtype != pt) return -CV_EINTERNAL;
  if (L == 0) {   /* a = x, promoted: no device work */
    for (int r = 0; r < B; r++) {
      if (cv_array_nbytes(&it[r].out[0].a) != numel * cv_dtype_size(pt)) return -CV_EINTERNAL;
      cv_convert(it[r].out[0].a.data, pt, find_in(&it[r], "x")->a.data, x->a.dtype, numel);
    }
    return 0;
  }
  cv_cuda_dwt_job_t *job = calloc(1, sizeof *job);
  if (!job) return -CV_EOUT_OF_MEMORY;
  job->dt = rdt;
  job->rank = real_view(job->shape, B, x->a.shape, x->a.ndim, cv_dtype_is_complex(pt));
  job->n_axes = n;
  job->level = L;
  for (int i = 0; i < n; i++) {
    job->axes[i] = p->axes[i] + 1;
    job->wavelets[i] = &p->wavelets[i];
    job->modes[i] = p->modes[i];
  }
  size_t es = cv_dtype_size(rdt), off_x = take(g, numel * B * cv_dtype_size(pt)), off[CV_DWT_MAX_LEVEL + 1];
  int64_t elems[CV_DWT_MAX_LEVEL + 1];   /* one band of one item */
  for (int lev = L; lev >= 1; lev--) {
    int64_t shape[CV_CUDA_MAX_RANK];
    cv_cuda_dwt_level_shape(job, lev, shape);
    elems[lev] = cv__cuda_numel(shape, job->rank) / B;
    off[lev] = take(g, ((size_t)1 << n) * (size_t)elems[lev] * B * es);
  }
  for (int r = 0; r < B && rc == 0; r++) {
    const cv_io_t *xr = find_in(&it[r], "x");
    rc = seg_push(&g->up, off_x + (size_t)r * numel * cv_dtype_size(pt), xr->a.data, xr->a.dtype, pt, numel);
    for (int lev = L; lev >= 1 && rc == 0; lev--)
      for (int b = lev == L ? 0 : 1; b <= per && rc == 0; b++) {
        cv_io_t *o = b == 0 ? &it[r].out[0] : &it[r].out[1 + (L - lev) * per + (b - 1)];
        rc = down_item(g, o, off[lev] + (size_t)b * B * (size_t)elems[lev] * es, elems[lev], rdt, r);
      }
  }
  if (rc == 0) rc = stage_in(ctx, g, ws);
  if (rc == 0) {
    job->x = g->base + off_x;
    for (int lev = 1; lev <= L; lev++) job->stack[lev] = g->base + off[lev];
    rc = cv_cuda_dwt_launch(job, ws);
  }
  if (rc == 0) rc = stage_out(ctx, g);
  free(job);
  return rc;
}

/* ---- idwt ---- */

static int run_idwt(cv_cuda_ctx_t *ctx, cv_work_t *it, int B, group_t *g, cv_cuda_ws_t *ws) {
  const cv_dwt_params_t *p = &it[0].params->u.dwt;
  cv_idwt_layout_t *lay = malloc(sizeof *lay);
  cv_cuda_idwt_job_t *job = calloc(1, sizeof *job);
  int rc = lay && job ? 0 : -CV_EOUT_OF_MEMORY, n = p->n_axes;
  if (rc == 0) rc = cv_idwt_layout(p, it[0].in, it[0].n_in, lay, &it[0].err);
  if (rc) goto done;
  cv_dtype_t dt = lay->dtype, rdt = real_of(dt);
  bool cplx = cv_dtype_is_complex(dt);
  size_t es = cv_dtype_size(rdt), dsz = cv_dtype_size(dt);
  int64_t x_item = cv_shape_numel(lay->x_shape, lay->ndim) * (cplx ? 2 : 1);
  for (int r = 0; r < B && rc == 0; r++)
    if (it[r].n_out != 1 || it[r].out[0].a.dtype != dt) rc = -CV_EINTERNAL;
  if (rc) goto done;
  int64_t xs[CV_CUDA_MAX_RANK];
  int rank = real_view(xs, B, lay->x_shape, lay->ndim, cplx);
  size_t off_x = take(g, (size_t)x_item * B * es);

  if (lay->level == 0) {   /* x = a, cropped to `shape` and converted */
    const cv_io_t *a = &it[0].in[lay->a_index];
    int64_t as[CV_CUDA_MAX_RANK];
    real_view(as, B, a->a.shape, a->a.ndim, cplx);
    size_t a_item = (size_t)cv_shape_numel(a->a.shape, a->a.ndim), off_a = take(g, a_item * B * dsz);
    for (int r = 0; r < B && rc == 0; r++) {
      const cv_io_t *ar = find_in(&it[r], "a");
      rc = seg_push(&g->up, off_a + (size_t)r * a_item * dsz, ar->a.data, ar->a.dtype, dt, a_item);
      if (rc == 0) rc = down_item(g, &it[r].out[0], off_x, x_item, rdt, r);
    }
    if (rc == 0) rc = stage_in(ctx, g, ws);
    if (rc == 0) rc = cv_cuda_crop_launch(es, rank, as, xs, g->base + off_a, g->base + off_x, ws->stream);
    if (rc == 0) rc = stage_out(ctx, g);
    goto done;
  }

  job->dt = rdt;
  job->rank = rank;
  job->n_axes = n;
  job->start = lay->start;
  for (int i = 0; i < n; i++) {
    job->axes[i] = p->axes[i] + 1;
    job->wavelets[i] = &p->wavelets[i];
    job->modes[i] = p->modes[i];
  }
  size_t off[CV_DWT_MAX_LEVEL + 1];
  int64_t elems[CV_DWT_MAX_LEVEL + 1];   /* one band of one item, real elements */
  for (int j = lay->start; j >= 1; j--) {
    real_view(job->band[j], B, lay->band[j], lay->ndim, cplx);
    real_view(job->res[j], B, lay->res[j], lay->ndim, cplx);
    elems[j] = cv__cuda_numel(job->band[j], rank) / B;
    off[j] = take(g, ((size_t)1 << n) * (size_t)elems[j] * B * es);
    if (j < lay->start) job->present[j][0] |= 1u;   /* written by level j+1 */
  }
  for (int r = 0; r < B && rc == 0; r++) {
    for (int i = 0; i < it[r].n_in && rc == 0; i++) {
      const cv_io_t *in = &it[r].in[i];
      int jj, nk;
      unsigned bits;
      if (cv_dwt_parse_name(in->name, &jj, &bits, &nk) != 0) {
        rc = -CV_EINTERNAL;
        break;
      }
      if (jj == 0) jj = lay->start;   /* `a` enters at the first level that runs */
      if (jj < 1 || jj > lay->start) continue;
      size_t cnt = (size_t)elems[jj] / (cplx ? 2 : 1);
      if ((size_t)cv_shape_numel(in->a.shape, in->a.ndim) != cnt) {
        rc = -CV_EINTERNAL;
        break;
      }
      job->present[jj][bits >> 5] |= 1u << (bits & 31);
      rc = seg_push(&g->up, off[jj] + ((size_t)bits * B + (size_t)r) * cnt * dsz, in->a.data, in->a.dtype, dt, cnt);
    }
    if (rc == 0) rc = down_item(g, &it[r].out[0], off_x, x_item, rdt, r);
  }
  if (rc == 0) rc = stage_in(ctx, g, ws);
  if (rc == 0) {
    for (int j = lay->start; j >= 1; j--) job->stack[j] = g->base + off[j];
    job->x = g->base + off_x;
    rc = cv_cuda_idwt_launch(job, ws);
  }
  if (rc == 0) rc = stage_out(ctx, g);
done:
  free(lay);
  free(job);
  return rc;
}

/* ---- sepconv ---- */

static int run_sepconv(cv_cuda_ctx_t *ctx, cv_work_t *it, int B, group_t *g, cv_cuda_ws_t *ws) {
  const cv_sepconv_params_t *p = &it[0].params->u.sepconv;
  const cv_io_t *x = find_in(&it[0], "x");
  if (!x) return -CV_EINTERNAL;
  cv_dtype_t pt = cv_dtype_promote_wavelet(x->a.dtype), rdt = real_of(pt);
  bool cplx = cv_dtype_is_complex(pt);
  cv_cuda_sepconv_job_t job;
  memset(&job, 0, sizeof job);
  job.dt = rdt;
  job.rank = real_view(job.shape, B, x->a.shape, x->a.ndim, cplx);
  job.axis_shift = 1;
  job.p = p;
  int64_t ys[CV_CUDA_MAX_RANK];
  memcpy(ys, job.shape, sizeof ys);
  for (int i = 0; i < p->n_filters; i++) {
    int ax = p->filters[i].axis + 1;
    if (p->filters[i].axis < 0 || ax >= job.rank) return -CV_EINTERNAL;
    ys[ax] = cv_cuda_sepconv_out_len(&p->filters[i], ys[ax]);
    if (ys[ax] < 1) return -CV_EINTERNAL;
  }
  size_t numel = (size_t)cv_shape_numel(x->a.shape, x->a.ndim), psz = cv_dtype_size(pt);
  int64_t y_item = cv__cuda_numel(ys, job.rank) / B;
  size_t off_x = take(g, numel * B * psz), off_y = take(g, (size_t)y_item * B * cv_dtype_size(rdt));
  int rc = 0;
  for (int r = 0; r < B && rc == 0; r++) {
    const cv_io_t *xr = find_in(&it[r], "x");
    if (it[r].n_out != 1 || it[r].out[0].a.dtype != pt) return -CV_EINTERNAL;
    rc = seg_push(&g->up, off_x + (size_t)r * numel * psz, xr->a.data, xr->a.dtype, pt, numel);
    if (rc == 0) rc = down_item(g, &it[r].out[0], off_y, y_item, rdt, r);
  }
  if (rc == 0) rc = stage_in(ctx, g, ws);
  if (rc == 0) {
    job.x = g->base + off_x;
    job.y = g->base + off_y;
    rc = cv_cuda_sepconv_launch(&job, ws);
  }
  if (rc == 0) rc = stage_out(ctx, g);
  return rc;
}

/* ---- conv (one job per group: weights differ between jobs) ---- */

int cv__cuda_conv_geom(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_cuda_conv_job_t *job) {
  const cv_io_t *x, *w, *b;
  memset(job, 0, sizeof *job);
  int rc = cv_conv_geom(p, in, n_in, &job->g, &x, &w, &b);
  if (rc) return rc;
  job->x = x->a.data;
  job->w = w->a.data;
  job->b = b ? b->a.data : NULL;
  return 0;
}

/* Times one candidate on the job's real buffers: the best of up to three
 * runs (one when the first is already 3× slower than `best`); <0 when it
 * cannot run. Its workspace is released after every run. */
static double conv_time(cv_cuda_conv_job_t *job, cv_conv_algo_t a, cudaStream_t s, double best) {
  cudaEvent_t e0 = NULL, e1 = NULL;
  double ms = -1;
  if (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) goto done;
  for (int rep = 0; rep < 3; rep++) {
    cv_cuda_ws_t tws = {.stream = s};
    float t = 0;
    int rc = cudaEventRecord(e0, s) == cudaSuccess ? cv_cuda_conv_run(job, a, &tws) : -CV_EINTERNAL;
    if (rc == 0 && cudaEventRecord(e1, s) != cudaSuccess) rc = -CV_EINTERNAL;
    cv__cuda_ws_release(&tws);
    if (rc == 0 && (cudaEventSynchronize(e1) != cudaSuccess || cudaEventElapsedTime(&t, e0, e1) != cudaSuccess))
      rc = -CV_EINTERNAL;
    if (rc) {
      (void)cudaStreamSynchronize(s);
      (void)cudaGetLastError();
      ms = -1;
      break;
    }
    if (ms < 0 || t < ms) ms = t;
    if (best >= 0 && ms > 3 * best) break;
  }
done:
  if (e0) (void)cudaEventDestroy(e0);
  if (e1) (void)cudaEventDestroy(e1);
  return ms;
}

/* The algorithm for job: the forced one; else the only candidate; else the
 * plan cache's winner; else every candidate timed once and the fastest
 * remembered (in memory and under data_dir/plans). */
static cv_conv_algo_t conv_pick(cv_cuda_ctx_t *ctx, const cv_device_t *dev, cv_cuda_conv_job_t *job, cudaStream_t s) {
  cv_conv_caps_t caps = cv__cuda_conv_caps(ctx);
  cv_conv_algo_t menu[CV_CONV_MENU_MAX], best = CV_CONV_ALGO_DIRECT;
  char key[CV_PLAN_KEY_MAX];
  double best_ms = -1;
  if (job->g.algo != CV_CONV_ALGO_AUTO) return job->g.algo;
  int n = cv_conv_menu(&job->g, &caps, menu, CV_CONV_MENU_MAX);
  if (n <= 1) return n == 1 ? menu[0] : CV_CONV_ALGO_DIRECT;
  bool keyed = cv_conv_plan_key(&job->g, dev->name, key, sizeof key) == 0;
  if (keyed && cv_plan_cache_get(ctx->plans, key, &best, NULL) && cv_conv_algo_applies(&job->g, best, &caps))
    return best;
  best = menu[0];
  for (int i = 0; i < n; i++) {
    double ms = conv_time(job, menu[i], s, best_ms);
    if (getenv("CONVOY_CONV_VERBOSE"))
      fprintf(stderr, "convoy cuda: %s: conv candidate %s: %.4f ms%s\n", dev->id, cv_conv_algo_name(menu[i]), ms,
              ms < 0 ? " (cannot run)" : "");
    if (ms >= 0 && (best_ms < 0 || ms < best_ms)) best_ms = ms, best = menu[i];
  }
  if (keyed && best_ms >= 0) (void)cv_plan_cache_put(ctx->plans, key, best, best_ms);
  return best;
}

static int run_conv(cv_cuda_ctx_t *ctx, const cv_device_t *dev, cv_work_t *it, group_t *g, cv_cuda_ws_t *ws) {
  cv_cuda_conv_job_t job;
  int rc = cv__cuda_conv_geom(&it->params->u.conv, it->in, it->n_in, &job);
  if (rc) return -CV_EINTERNAL;
  job.cublas = ctx->cublas;
  job.cudnn = ctx->cudnn;
  cv_dtype_t dt = job.g.dt;
  size_t es = cv_dtype_size(dt);
  int64_t nx = job.g.n * job.g.c * job.g.in[0] * job.g.in[1] * job.g.in[2];
  int64_t nw = job.g.cout * (job.g.c / job.g.groups) * job.g.k[0] * job.g.k[1] * job.g.k[2];
  int64_t ny = job.g.n * job.g.cout * job.g.out[0] * job.g.out[1] * job.g.out[2];
  if (it->n_out != 1 || it->out[0].a.dtype != dt || cv_array_nbytes(&it->out[0].a) != (size_t)ny * es)
    return -CV_EINTERNAL;
  size_t off_x = take(g, (size_t)nx * es), off_w = take(g, (size_t)nw * es);
  size_t off_b = job.b ? take(g, (size_t)job.g.cout * es) : 0, off_y = take(g, (size_t)ny * es);
  rc = seg_push(&g->up, off_x, job.x, dt, dt, (size_t)nx);
  if (rc == 0) rc = seg_push(&g->up, off_w, job.w, dt, dt, (size_t)nw);
  if (rc == 0 && job.b) rc = seg_push(&g->up, off_b, job.b, dt, dt, (size_t)job.g.cout);
  if (rc == 0) rc = seg_push(&g->down, off_y, it->out[0].a.data, dt, dt, (size_t)ny);
  if (rc == 0) rc = stage_in(ctx, g, ws);
  if (rc == 0) {
    job.x = g->base + off_x;
    job.w = g->base + off_w;
    job.b = job.b ? g->base + off_b : NULL;
    job.y = g->base + off_y;
    cv_conv_algo_t algo = conv_pick(ctx, dev, &job, ws->stream);
    rc = cv_cuda_conv_run(&job, algo, ws);
    if (rc == -CV_EUNSUPPORTED_OP && job.g.algo == CV_CONV_ALGO_AUTO && algo != CV_CONV_ALGO_DIRECT)
      rc = cv_cuda_conv_run(&job, CV_CONV_ALGO_DIRECT, ws);   /* a cached winner that no longer runs */
    else if (rc == -CV_EUNSUPPORTED_OP)
      rc = -CV_EINTERNAL;   /* supports() promised this algo */
  }
  if (rc == 0) rc = stage_out(ctx, g);
  return rc;
}

/* ---- the batch ---- */

static bool same_key(const cv_work_t *a, const cv_work_t *b) {
  if (a->params->op != b->params->op || a->params->op == CV_OP_CONV) return false;
  if (!cv_op_params_equal(a->params, b->params)) return false;
  if (a->n_in != b->n_in || a->n_out != b->n_out) return false;
  for (int i = 0; i < a->n_in; i++) {
    const cv_io_t *x = &a->in[i], *y = &b->in[i];
    if (strcmp(x->name, y->name) || x->a.dtype != y->a.dtype || x->a.ndim != y->a.ndim ||
        memcmp(x->a.shape, y->a.shape, sizeof(int64_t) * (size_t)x->a.ndim))
      return false;
  }
  return true;
}

static int run_group(cv_cuda_ctx_t *ctx, cv_device_t *dev, cv_work_t *it, int B) {
  cv_cuda_ws_t ws = {.stream = ctx->stream[CV_CUDA_S_COMPUTE]};
  group_t g;
  memset(&g, 0, sizeof g);
  int rc = -CV_EUNSUPPORTED_OP;
  switch (it[0].params->op) {
    case CV_OP_DWT: rc = run_dwt(ctx, it, B, &g, &ws); break;
    case CV_OP_IDWT: rc = run_idwt(ctx, it, B, &g, &ws); break;
    case CV_OP_SEPCONV: rc = run_sepconv(ctx, it, B, &g, &ws); break;
    case CV_OP_CONV: rc = run_conv(ctx, dev, it, &g, &ws); break;
    case CV_OP_COUNT: break;
  }
  /* free the block only after every stream is done with it */
  for (int s = 0; s < CV_CUDA_N_STREAMS; s++) {
    if (s == CV_CUDA_S_COMPUTE) continue;
    if (cudaEventRecord(ctx->ev_side, ctx->stream[s]) == cudaSuccess)
      (void)cudaStreamWaitEvent(ctx->stream[CV_CUDA_S_COMPUTE], ctx->ev_side, 0);
  }
  cv__cuda_ws_release(&ws);
  cudaError_t e = cudaStreamSynchronize(ctx->stream[CV_CUDA_S_COMPUTE]);
  if (e != cudaSuccess && rc == 0) rc = cv__cuda_err(e, "cudaStreamSynchronize", __FILE__, __LINE__);
  if (rc && rc != -CV_EOUT_OF_MEMORY && cudaDeviceSynchronize() != cudaSuccess) {
    atomic_store(&ctx->unhealthy, true);
    fprintf(stderr, "convoy cuda: %s: sticky CUDA error; the device takes no more jobs\n", dev->id);
  }
  free(g.up.s);
  free(g.down.s);
  for (int r = 0; r < B; r++) {
    it[r].rc = rc;
    if (rc && it[r].err.code == CV_OK)
      cv_error_set(&it[r].err, (cv_err_t)-rc, NULL, "%s: %s failed on the GPU: %s", dev->id,
                   cv_op_name(it[0].params->op), cv_strerror(-rc));
  }
  return rc;
}

/* ---- the budget and slabs (kernels/slab.h) ---- */

#define CV_CUDA_BUDGET_PCT 85   /* of free + pool-cached memory, when no budget is configured */

/* The configured budget, else what the device can give now: free memory
 * plus what the stream-ordered pool holds unused, less a margin for
 * workspaces and other processes. */
static uint64_t cuda_budget(const cv_device_t *dev, const cv_cuda_ctx_t *ctx) {
  if (dev->budget_bytes) return dev->budget_bytes;
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;   /* unknown: no slabbing; an OOM still splits groups */
  }
  uint64_t avail = free_b;
  cudaMemPool_t pool;
  uint64_t reserved = 0, used = 0;
  if (cudaDeviceGetDefaultMemPool(&pool, ctx->ordinal) == cudaSuccess &&
      cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved) == cudaSuccess &&
      cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used) == cudaSuccess && reserved > used)
    avail += reserved - used;
  (void)cudaGetLastError();
  return avail / 100 * CV_CUDA_BUDGET_PCT;
}

typedef struct slab_ctx_s {
  cv_cuda_ctx_t *ctx;
  cv_device_t *dev;
} slab_ctx_t;

/* cv_slab_run's runner: one (sub-)item as a group of one. */
static int run_one(void *arg, cv_work_t *w) {
  slab_ctx_t *c = arg;
  run_group(c->ctx, c->dev, w, 1);
  return 0;   /* the item carries its rc */
}

/* After a group: an item that alone ran out of device memory (the budget
 * is an estimate; other processes share the device) is tried again in
 * slabs of half its working set; the others report their outputs. */
static void finish_group(cv_cuda_ctx_t *ctx, cv_device_t *dev, cv_work_t *it, int n) {
  for (int r = 0; r < n; r++) {
    cv_work_t *w = &it[r];
    if (w->rc == -CV_EOUT_OF_MEMORY) {
      slab_ctx_t sc = {ctx, dev};
      w->rc = 0;
      cv_error_clear(&w->err);
      cv_slab_run(w, cv_slab_work_bytes(w) / 2, run_one, &sc);
      continue;
    }
    for (int k = 0; w->rc == 0 && w->on_slab && k < w->n_out; k++)
      w->on_slab(w->on_slab_ctx, k, 0, cv_array_nbytes(&w->out[k].a));
  }
}

int cv__cuda_run(cv_device_t *dev, cv_batch_t *b) {
  cv_cuda_ctx_t *ctx = dev->ctx;
  cudaError_t e = cudaSetDevice(ctx->ordinal);
  if (e != cudaSuccess) return cv__cuda_err(e, "cudaSetDevice", __FILE__, __LINE__);
  uint64_t budget = cuda_budget(dev, ctx);
  for (int i = 0; i < b->n;) {
    cv_work_t *w = &b->items[i];
    if (!dev->backend->supports(dev, w->params, w->in, w->n_in)) {
      /* the engine routes by supports(); a job that still gets here is refused, not guessed at */
      w->rc = cv_error_set(&w->err, CV_EINVALID_ARGUMENT, NULL, "%s cannot run this %s job (unsupported parameters)",
                           dev->id, cv_op_name(w->params->op));
      i++;
      continue;
    }
    uint64_t bytes = cv_slab_work_bytes(w);
    if (budget && bytes > budget) {   /* over the budget alone: slab by slab, host to device and back */
      slab_ctx_t sc = {ctx, dev};
      cv_slab_run(w, budget, run_one, &sc);
      i++;
      continue;
    }
    int j = i + 1;
    while (j < b->n && j - i < CV_CUDA_MAX_GROUP && same_key(&b->items[i], &b->items[j]) &&
           (!budget || (bytes += cv_slab_work_bytes(&b->items[j])) <= budget))
      j++;
    int rc = run_group(ctx, dev, &b->items[i], j - i);
    if (rc == -CV_EOUT_OF_MEMORY && j - i > 1)   /* too big together: one job at a time */
      for (int k = i; k < j; k++) {
        cv_error_clear(&b->items[k].err);
        run_group(ctx, dev, &b->items[k], 1);
      }
    finish_group(ctx, dev, &b->items[i], j - i);
    i = j;
  }
  return 0;
}
