/* backend_cuda.c — the CUDA backend's vtable, device discovery and context:
 * one device per GPU ("cuda:N"), each with three non-blocking streams
 * (upload, compute, download), pinned staging buffers, the device's
 * stream-ordered memory pool, cuBLAS and cuDNN handles and the conv plan
 * cache (data_dir/plans/conv-<GPU name>.tsv). No driver or no GPU means
 * zero devices (logged), never a failure. supports() is a pure predicate;
 * run() lives in run_cuda.c, stats() (NVML / cudaMemGetInfo) in nvml.c. Discovery runs once at start-up; the rest on
 * the device's worker thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CONVOY_HAVE_CUBLAS
#include <cublas_v2.h>
#endif
#ifdef CONVOY_HAVE_CUDNN
#include <cudnn.h>
#endif

#include "../dwt_math.h"
#include "backend_cuda.h"
#include "plan_cache.h"

/* ---- errors and the per-call workspace (cuda_common.h) ---- */

int cv__cuda_err(cudaError_t e, const char *expr, const char *file, int line) {
  fprintf(stderr, "convoy cuda: %s:%d: %s: %s (%s)\n", file, line, expr, cudaGetErrorName(e), cudaGetErrorString(e));
  (void)cudaGetLastError();   /* clears it unless sticky */
  return e == cudaErrorMemoryAllocation ? -CV_EOUT_OF_MEMORY : -CV_EINTERNAL;
}

int cv__cuda_ws_alloc(cv_cuda_ws_t *ws, size_t bytes, void **out) {
  int rc = 0;
  void *p = NULL;
  if (ws->n >= CV_CUDA_WS_MAX) return -CV_EINTERNAL;
  CV_CUDA_TRY(cudaMallocAsync(&p, bytes ? bytes : 1, ws->stream));
  ws->ptr[ws->n++] = p;
  *out = p;
fail:
  return rc;
}

void cv__cuda_ws_release(cv_cuda_ws_t *ws) {
  for (int i = 0; i < ws->n; i++) (void)cudaFreeAsync(ws->ptr[i], ws->stream);
  ws->n = 0;
}

/* ---- supports: pure, cheap; false reroutes the job ---- */

static bool io_ok(const cv_io_t *in, int n_in) {
  if (n_in < 1) return false;
  for (int i = 0; i < n_in; i++)
    if (in[i].a.ndim < 1 || in[i].a.ndim > CV_MAX_DIMS || (unsigned)in[i].a.dtype >= CV_DTYPE_COUNT) return false;
  return true;
}

static bool dwt_ok(const cv_dwt_params_t *p, const cv_io_t *in, int n_in, bool inverse) {
  if (!io_ok(in, n_in) || p->n_axes < 1 || p->n_axes > CV_MAX_DIMS || p->n_wavelets != p->n_axes ||
      p->n_modes != p->n_axes || p->level < 0 || p->level > CV_DWT_MAX_LEVEL)
    return false;
  if (!inverse && (n_in != 1 || strcmp(in[0].name, "x") != 0)) return false;
  for (int i = 0; i < p->n_axes; i++) {
    int len = p->wavelets[i].len;
    if (p->axes[i] < 0 || p->axes[i] >= in[0].a.ndim || (unsigned)p->modes[i] >= CV_MODE_COUNT || len < 1 ||
        len > CV_WAVELET_MAX_LEN || (inverse && (len < 2 || len % 2)))
      return false;
  }
  return true;
}

static bool sepconv_ok(const cv_sepconv_params_t *p, const cv_io_t *in, int n_in) {
  if (!io_ok(in, n_in) || n_in != 1 || strcmp(in[0].name, "x") != 0) return false;
  if (p->n_filters < 1 || p->n_filters > CV_SEPCONV_MAX_FILTERS) return false;
  for (int i = 0; i < p->n_filters; i++) {
    const cv_sepconv_filter_t *f = &p->filters[i];
    if (f->axis < 0 || f->axis >= in[0].a.ndim || f->ntaps < 1 || f->ntaps > CV_SEPCONV_MAX_TAPS ||
        f->stride < 1 || f->dilation < 1 || f->pad_lo < 0 || f->pad_hi < 0 ||
        (unsigned)f->mode >= CV_MODE_COUNT || f->mode == CV_MODE_PERIODIZATION || f->flip < -1 || f->flip > 1)
      return false;
  }
  return true;
}

cv_conv_caps_t cv__cuda_conv_caps(const cv_cuda_ctx_t *ctx) {
  cv_conv_caps_t caps = {ctx->cublas != NULL, ctx->cufft, ctx->cudnn != NULL, ctx->mem_bytes};
  return caps;
}

static bool conv_ok(const cv_cuda_ctx_t *ctx, const cv_conv_params_t *p, const cv_io_t *in, int n_in) {
  cv_cuda_conv_job_t job;
  if (!io_ok(in, n_in) || cv__cuda_conv_geom(p, in, n_in, &job) != 0) return false;
  if (p->algo == CV_CONV_ALGO_AUTO) return true;   /* the direct kernel runs everything */
  cv_conv_caps_t caps = cv__cuda_conv_caps(ctx);
  return cv_conv_algo_applies(&job.g, p->algo, &caps);
}

static bool cuda_supports(const cv_device_t *dev, const cv_op_params_t *p, const cv_io_t *in, int n_in) {
  const cv_cuda_ctx_t *ctx = dev->ctx;
  if (!ctx || atomic_load(&ctx->unhealthy)) return false;
  switch (p->op) {
    case CV_OP_DWT: return dwt_ok(&p->u.dwt, in, n_in, false);
    case CV_OP_IDWT: return dwt_ok(&p->u.dwt, in, n_in, true);
    case CV_OP_SEPCONV: return sepconv_ok(&p->u.sepconv, in, n_in);
    case CV_OP_CONV: return conv_ok(ctx, &p->u.conv, in, n_in);
    case CV_OP_COUNT: break;
  }
  return false;
}

/* ---- raw device memory and copies (vtable) ---- */

static int cuda_alloc(cv_device_t *dev, size_t n, void **out) {
  cv_cuda_ctx_t *ctx = dev->ctx;
  int rc = 0;
  CV_CUDA_TRY(cudaSetDevice(ctx->ordinal));
  CV_CUDA_TRY(cudaMalloc(out, n ? n : 1));
fail:
  return rc;
}

static void cuda_free(cv_device_t *dev, void *p) {
  cv_cuda_ctx_t *ctx = dev->ctx;
  if (!p || cudaSetDevice(ctx->ordinal) != cudaSuccess) return;
  (void)cudaFree(p);
}

static int cuda_copy(cv_device_t *dev, void *dst, const void *src, size_t n, cv_copy_dir_t dir) {
  cv_cuda_ctx_t *ctx = dev->ctx;
  int rc = 0;
  enum cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
  switch (dir) {
    case CV_COPY_H2D: kind = cudaMemcpyHostToDevice; break;
    case CV_COPY_D2H: kind = cudaMemcpyDeviceToHost; break;
    case CV_COPY_D2D: kind = cudaMemcpyDeviceToDevice; break;
  }
  CV_CUDA_TRY(cudaSetDevice(ctx->ordinal));
  CV_CUDA_TRY(cudaMemcpy(dst, src, n, kind));
fail:
  return rc;
}

/* ---- context ---- */

static void ctx_free(cv_cuda_ctx_t *ctx) {
  if (!ctx) return;
  cv__cuda_nvml_close(ctx->nvml);
  (void)cudaSetDevice(ctx->ordinal);
  for (int i = 0; i < CV_CUDA_N_STREAMS; i++)
    if (ctx->stream[i]) (void)cudaStreamSynchronize(ctx->stream[i]);
#ifdef CONVOY_HAVE_CUBLAS
  if (ctx->cublas) cublasDestroy((cublasHandle_t)ctx->cublas);
#endif
#ifdef CONVOY_HAVE_CUDNN
  if (ctx->cudnn) cudnnDestroy((cudnnHandle_t)ctx->cudnn);
#endif
  cv_plan_cache_close(ctx->plans);
  for (int k = 0; k < CV_CUDA_STAGE_BUFS; k++) {
    if (ctx->stage[k]) (void)cudaFreeHost(ctx->stage[k]);
    if (ctx->stage_ev[k]) (void)cudaEventDestroy(ctx->stage_ev[k]);
  }
  cudaEvent_t evs[] = {ctx->ev_alloc, ctx->ev_up, ctx->ev_comp, ctx->ev_down, ctx->ev_side};
  for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
    if (evs[i]) (void)cudaEventDestroy(evs[i]);
  for (int i = 0; i < CV_CUDA_N_STREAMS; i++)
    if (ctx->stream[i]) (void)cudaStreamDestroy(ctx->stream[i]);
  free(ctx);
}

static void cuda_close(cv_device_t *dev) {
  ctx_free(dev->ctx);
  dev->ctx = NULL;
}

static int cuda_run(cv_device_t *dev, cv_batch_t *b) { return cv__cuda_run(dev, b); }

static const struct cv_backend_i cuda_backend = {
    .name = "cuda",
    .supports = cuda_supports,
    .run = cuda_run,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .copy = cuda_copy,
    .close = cuda_close,
    .stats = cv__cuda_stats,
};

const struct cv_backend_i *cv__cuda_backend(void) { return &cuda_backend; }

static int ctx_init(cv_cuda_ctx_t *ctx, int ordinal, size_t total_mem) {
  int rc = 0, pools = 0;
  ctx->ordinal = ordinal;
  ctx->mem_bytes = total_mem;
#ifdef CONVOY_HAVE_CUFFT
  ctx->cufft = true;
#endif
  atomic_init(&ctx->unhealthy, false);
  CV_CUDA_TRY(cudaSetDevice(ordinal));
  CV_CUDA_TRY(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, ordinal));
  if (!pools) {
    fprintf(stderr, "convoy cuda: device %d has no stream-ordered memory pools; not used\n", ordinal);
    return -CV_EINTERNAL;
  }
  for (int i = 0; i < CV_CUDA_N_STREAMS; i++)
    CV_CUDA_TRY(cudaStreamCreateWithFlags(&ctx->stream[i], cudaStreamNonBlocking));
  for (int k = 0; k < CV_CUDA_STAGE_BUFS; k++) {
    CV_CUDA_TRY(cudaHostAlloc(&ctx->stage[k], CV_CUDA_STAGE_BYTES, cudaHostAllocDefault));
    CV_CUDA_TRY(cudaEventCreateWithFlags(&ctx->stage_ev[k], cudaEventDisableTiming));
  }
  cudaEvent_t *evs[] = {&ctx->ev_alloc, &ctx->ev_up, &ctx->ev_comp, &ctx->ev_down, &ctx->ev_side};
  for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
    CV_CUDA_TRY(cudaEventCreateWithFlags(evs[i], cudaEventDisableTiming));
  /* keep freed pool memory for the next calls instead of returning it at every sync */
  cudaMemPool_t pool;
  CV_CUDA_TRY(cudaDeviceGetDefaultMemPool(&pool, ordinal));
  uint64_t keep = (uint64_t)total_mem / 100 * CV_CUDA_POOL_KEEP_PCT;
  CV_CUDA_TRY(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
#ifdef CONVOY_HAVE_CUBLAS
  {
    cublasHandle_t h = NULL;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
      fprintf(stderr, "convoy cuda: device %d: cublasCreate failed; pointwise GEMM off\n", ordinal);
    } else {
      /* explicit: no TF32 unless a job asks for it (compute type per call) */
      cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
      cublasSetStream(h, ctx->stream[CV_CUDA_S_COMPUTE]);
      ctx->cublas = h;
    }
  }
#endif
#ifdef CONVOY_HAVE_CUDNN
  {
    cudnnHandle_t h = NULL;
    if (cudnnCreate(&h) != CUDNN_STATUS_SUCCESS)
      fprintf(stderr, "convoy cuda: device %d: cudnnCreate failed; the cuDNN conv candidates are off\n", ordinal);
    else
      ctx->cudnn = h;
  }
#endif
fail:
  return rc;
}

/* The device's plan cache: under data_dir/plans when a folder is given
 * (and can be made), else in memory only. */
static void plans_open(cv_cuda_ctx_t *ctx, const char *data_dir, const char *name) {
  char path[4096];
  const char *where = NULL;
  if (data_dir && data_dir[0]) {
    if (cv_plan_cache_path(data_dir, name, path, sizeof path) == 0)
      where = path;
    else
      fprintf(stderr, "convoy cuda: cannot make %s/plans; conv plans kept in memory only\n", data_dir);
  }
  if (cv_plan_cache_open(where, CV_PLAN_CACHE_DEFAULT, &ctx->plans) != 0) ctx->plans = NULL;
}

int cv_cuda_devices_open(cv_device_t *devs, int max, const char *data_dir, uint64_t budget) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    /* No driver or no device is the normal CPU-only case: say nothing. */
    if (e != cudaErrorNoDevice && e != cudaErrorInsufficientDriver)
      fprintf(stderr, "convoy cuda: no CUDA devices (%s: %s); CPU only\n", cudaGetErrorName(e), cudaGetErrorString(e));
    (void)cudaGetLastError();
    return 0;
  }
  int n = 0;
  for (int d = 0; d < count && n < max; d++) {
    struct cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, d)) != cudaSuccess) {
      cv__cuda_err(e, "cudaGetDeviceProperties", __FILE__, __LINE__);
      continue;
    }
    cv_cuda_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx || ctx_init(ctx, d, prop.totalGlobalMem) != 0) {
      fprintf(stderr, "convoy cuda: device %d (%s) could not be set up; skipped\n", d, prop.name);
      ctx_free(ctx);
      continue;
    }
    plans_open(ctx, data_dir, prop.name);
    cv_device_t *dev = &devs[n++];
    memset(dev, 0, sizeof *dev);
    dev->backend = &cuda_backend;
    snprintf(dev->id, sizeof dev->id, "cuda:%d", d);
    snprintf(dev->kind, sizeof dev->kind, "cuda");
    snprintf(dev->name, sizeof dev->name, "%.*s", (int)sizeof dev->name - 1, prop.name);
    dev->memory_bytes = prop.totalGlobalMem;
    dev->budget_bytes = budget;   /* 0: run() derives one from free memory */
    ctx->nvml = cv__cuda_nvml_open(d);
    dev->ctx = ctx;
  }
  return n;
}
