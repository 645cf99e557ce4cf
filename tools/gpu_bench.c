/* gpu_bench.c — kernel-level timings of the CUDA backend on device-resident
 * data (CUDA events, warm-up, median of CV_BENCH_RUNS), next to a
 * device-to-device copy of the same bytes measured in the same run:
 * sepconv Haar stride 2 along axis 0 (512³, 1024³ f32), dwt haar level 1
 * (512³), dwt db4 level 3 on a batch of 256³ volumes. One line per case:
 * `convoy <case> ms=<median> gbps=<read+write GB/s> copy_gbps=<D2D> ratio=<gbps/copy>`.
 * loadtest/ops/gpu_bench.py runs it and the PyTorch/ptwt peers. Exits 77
 * without a CUDA device. Usage: gpu_bench [--quick]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cuda/dwt.cuh"
#include "../kernels/cuda/sepconv.cuh"

#define CV_BENCH_WARMUP 3
#define CV_BENCH_RUNS 15

typedef int (*bench_fn)(void *arg, cv_cuda_ws_t *ws);

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Median ms of fn over CV_BENCH_RUNS timed runs; < 0 on a CUDA failure. */
static float time_median(bench_fn fn, void *arg, cudaStream_t s) {
  cudaEvent_t e0, e1;
  float ms[CV_BENCH_RUNS];
  cv_cuda_ws_t ws = {.stream = s};
  if (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) return -1;
  for (int i = 0; i < CV_BENCH_WARMUP + CV_BENCH_RUNS; i++) {
    cudaEventRecord(e0, s);
    int rc = fn(arg, &ws);
    cudaEventRecord(e1, s);
    cv__cuda_ws_release(&ws);
    if (rc || cudaEventSynchronize(e1) != cudaSuccess) {
      fprintf(stderr, "gpu_bench: run failed (%d): %s\n", rc, cudaGetErrorString(cudaGetLastError()));
      return -1;
    }
    if (i >= CV_BENCH_WARMUP) cudaEventElapsedTime(&ms[i - CV_BENCH_WARMUP], e0, e1);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  qsort(ms, CV_BENCH_RUNS, sizeof ms[0], cmp_f);
  return ms[CV_BENCH_RUNS / 2];
}

typedef struct copy_s {
  void *dst;
  const void *src;
  size_t bytes;
} copy_t;

static int run_copy(void *arg, cv_cuda_ws_t *ws) {
  copy_t *c = arg;
  return cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, ws->stream) == cudaSuccess ? 0 : -1;
}

static int run_sepconv(void *arg, cv_cuda_ws_t *ws) { return cv_cuda_sepconv_launch(arg, ws); }
static int run_dwt(void *arg, cv_cuda_ws_t *ws) { return cv_cuda_dwt_launch(arg, ws); }

static void report(const char *name, float ms, double bytes, float copy_ms, double copy_bytes) {
  double gbps = bytes / (ms * 1e-3) / 1e9, cgbps = copy_bytes / (copy_ms * 1e-3) / 1e9;
  printf("convoy %s ms=%.4f gbps=%.1f copy_gbps=%.1f ratio=%.3f\n", name, ms, gbps, cgbps, gbps / cgbps);
  fflush(stdout);
}

/* Fills n floats with a cheap pattern on the device (values do not matter for timing). */
static int fill(void *p, size_t bytes) { return cudaMemset(p, 0x3c, bytes) == cudaSuccess ? 0 : -1; }

static int bench_sepconv(int64_t N, cudaStream_t s) {
  size_t in_b = (size_t)N * N * N * sizeof(float), out_b = in_b / 2;
  void *x = NULL, *y = NULL;
  int rc = -1;
  if (cudaMalloc(&x, in_b) != cudaSuccess || cudaMalloc(&y, in_b) != cudaSuccess || fill(x, in_b)) goto done;
  {
    static cv_sepconv_params_t p;
    memset(&p, 0, sizeof p);
    p.n_filters = 1;
    p.filters[0] = (cv_sepconv_filter_t){.axis = 0, .ntaps = 2, .taps = {0.70710678118654752, 0.70710678118654752},
                                         .stride = 2, .dilation = 1, .pad_kind = CV_PAD_VALID, .mode = CV_MODE_ZERO,
                                         .flip = 0};
    cv_cuda_sepconv_job_t job = {.dt = CV_DTYPE_F32, .rank = 4, .shape = {1, N, N, N}, .axis_shift = 1, .p = &p,
                                 .x = x, .y = y};
    copy_t cp = {y, x, in_b};
    float ms = time_median(run_sepconv, &job, s), cms = time_median(run_copy, &cp, s);
    if (ms < 0 || cms < 0) goto done;
    char name[64];
    snprintf(name, sizeof name, "sepconv_haar_s2_axis0_%lld3_f32", (long long)N);
    report(name, ms, (double)(in_b + out_b), cms, 2.0 * (double)in_b);
    rc = 0;
  }
done:
  cudaFree(x);
  cudaFree(y);
  return rc;
}

static int bench_dwt(const char *name, const char *wavelet, int level, int64_t B, int64_t N, cudaStream_t s) {
  static cv_wavelet_t w;
  cv_wavelet_from_info(&w, cv_wavelet_find(wavelet));
  cv_cuda_dwt_job_t *job = calloc(1, sizeof *job);
  int rc = -1;
  size_t in_b = (size_t)B * N * N * N * sizeof(float), out_b = 0;
  void *x = NULL, *out = NULL;
  if (!job) return -1;
  *job = (cv_cuda_dwt_job_t){.dt = CV_DTYPE_F32, .rank = 4, .shape = {B, N, N, N}, .n_axes = 3, .axes = {1, 2, 3},
                             .level = level};
  for (int i = 0; i < 3; i++) {
    job->wavelets[i] = &w;
    job->modes[i] = CV_MODE_SYMMETRIC;
  }
  size_t off[CV_DWT_MAX_LEVEL + 1];
  for (int lev = 1; lev <= level; lev++) {
    int64_t sh[CV_CUDA_MAX_RANK];
    cv_cuda_dwt_level_shape(job, lev, sh);
    off[lev] = out_b;
    out_b += 8 * (size_t)cv__cuda_numel(sh, 4) * sizeof(float);
  }
  if (cudaMalloc(&x, in_b) != cudaSuccess || cudaMalloc(&out, out_b) != cudaSuccess || fill(x, in_b)) goto done;
  {
    job->x = x;
    for (int lev = 1; lev <= level; lev++) job->stack[lev] = (char *)out + off[lev];
    copy_t cp = {out, x, in_b < out_b ? in_b : out_b};
    float ms = time_median(run_dwt, job, s), cms = time_median(run_copy, &cp, s);
    if (ms < 0 || cms < 0) goto done;
    /* bytes each level reads (its input) and writes (its bands) */
    double bytes = 0;
    for (int lev = 1; lev <= level; lev++) {
      int64_t a[CV_CUDA_MAX_RANK], b[CV_CUDA_MAX_RANK];
      cv_cuda_dwt_level_shape(job, lev - 1, a);
      cv_cuda_dwt_level_shape(job, lev, b);
      bytes += (double)(cv__cuda_numel(a, 4) + 8 * cv__cuda_numel(b, 4)) * sizeof(float);
    }
    report(name, ms, bytes, cms, 2.0 * (double)cp.bytes);
    rc = 0;
  }
done:
  cudaFree(x);
  cudaFree(out);
  free(job);
  return rc;
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
    printf("gpu_bench: no CUDA device\n");
    return 77;
  }
  struct cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  printf("# device %s, %zu MiB\n", prop.name, prop.totalGlobalMem >> 20);
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  int bad = 0;
  bad |= bench_sepconv(512, s) != 0;
  if (!quick) bad |= bench_sepconv(1024, s) != 0;
  bad |= bench_dwt("dwt_haar_L1_512^3_f32", "haar", 1, 1, 512, s) != 0;
  bad |= bench_dwt("dwt_db4_L3_4x256^3_f32", "db4", 3, 4, 256, s) != 0;
  cudaStreamDestroy(s);
  return bad ? 1 : 0;
}
