/* conv.cu — the conv op on the GPU (conv.cuh).
 *
 * Direct kernel: one thread per output element, consecutive threads on the
 * output's contiguous axis (ow for NCDHW, the channel for NDHWC), so input
 * loads of a warp are (strided-)contiguous and its weight loads mostly one
 * broadcast. Each thread loops over its group's input channels and the
 * kernel taps, mapping padded positions through cv_ix_pad (zeros, reflect,
 * replicate, circular). Half types load as f32 and accumulate in f32, f64 in
 * f64; one rounding at the store. This is the correctness baseline, not a
 * tuned kernel: no shared-memory tiling and no tensor cores yet.
 * Pointwise convs (1×1×1, stride 1, no padding, groups 1, NCDHW, f32/f64)
 * run as one strided-batched cuBLAS GEMM per call, Y_n = W · X_n, with
 * CUBLAS_COMPUTE_32F (no TF32 unless the job asked for it) or _64F.
 * Next steps, not done: cuDNN through its graph API for the general case,
 * cuFFT for large kernels. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#ifdef CONVOY_HAVE_CUBLAS
#include <cublas_v2.h>
#endif

#include "../dwt_index.h"
#include "conv.cuh"
#include "device_util.cuh"

typedef struct cv_convk_s {
  int64_t c, cout, cg, coutg;
  int64_t in[3], k[3], out[3], stride[3], dil[3], lo[3];
  cv_padmode_t padmode;
  int flip, cl, has_b;
  uint64_t total;
} cv_convk_t;

static __device__ __forceinline__ float cv_ld_f32(float v) { return v; }
static __device__ __forceinline__ double cv_ld_f64(double v) { return v; }
static __device__ __forceinline__ float cv_ld_f16(__half v) { return __half2float(v); }
static __device__ __forceinline__ float cv_ld_bf16(__nv_bfloat16 v) { return __bfloat162float(v); }
static __device__ __forceinline__ float cv_st_f32(float v) { return v; }
static __device__ __forceinline__ double cv_st_f64(double v) { return v; }
static __device__ __forceinline__ __half cv_st_f16(float v) { return __float2half_rn(v); }
static __device__ __forceinline__ __nv_bfloat16 cv_st_bf16(float v) { return __float2bfloat16_rn(v); }

/* XX(suffix, element type, accumulator type) */
#define CV_CUDA_CONV_DTYPES(XX) XX(f32, float, float) XX(f64, double, double) \
  XX(f16, __half, float) XX(bf16, __nv_bfloat16, float)

#define CV_CONV_KERNEL(sfx, T, ACC)                                                                  \
  __global__ void __launch_bounds__(CV_CUDA_CONV_BLOCK)                                              \
      cv_conv_direct_##sfx(const cv_convk_t g, const T *__restrict__ x, const T *__restrict__ w,     \
                           const T *__restrict__ b, T *__restrict__ y) {                             \
    for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < g.total;              \
         idx += (uint64_t)gridDim.x * blockDim.x) {                                                  \
      uint64_t rem = idx, ow, oh, od, oc, n;                                                         \
      if (g.cl) {                                                                                    \
        rem = cv_divmod(rem, (uint64_t)g.cout, &oc);                                                 \
        rem = cv_divmod(rem, (uint64_t)g.out[2], &ow);                                               \
        rem = cv_divmod(rem, (uint64_t)g.out[1], &oh);                                               \
        n = cv_divmod(rem, (uint64_t)g.out[0], &od);                                                 \
      } else {                                                                                       \
        rem = cv_divmod(rem, (uint64_t)g.out[2], &ow);                                               \
        rem = cv_divmod(rem, (uint64_t)g.out[1], &oh);                                               \
        rem = cv_divmod(rem, (uint64_t)g.out[0], &od);                                               \
        n = cv_divmod(rem, (uint64_t)g.cout, &oc);                                                   \
      }                                                                                              \
      const int64_t grp = (int64_t)oc / g.coutg;                                                     \
      ACC acc = g.has_b ? (ACC)cv_ld_##sfx(b[oc]) : (ACC)0;                                          \
      for (int64_t ic = 0; ic < g.cg; ic++) {                                                        \
        const int64_t cin = grp * g.cg + ic;                                                         \
        for (int64_t kd = 0; kd < g.k[0]; kd++) {                                                    \
          const int64_t id = cv_ix_pad((int64_t)od * g.stride[0] + kd * g.dil[0], g.lo[0], g.in[0], g.padmode); \
          if (id < 0) continue;                                                                      \
          const int64_t wd = g.flip ? g.k[0] - 1 - kd : kd;                                          \
          for (int64_t kh = 0; kh < g.k[1]; kh++) {                                                  \
            const int64_t ih = cv_ix_pad((int64_t)oh * g.stride[1] + kh * g.dil[1], g.lo[1], g.in[1], g.padmode); \
            if (ih < 0) continue;                                                                    \
            const int64_t wh = g.flip ? g.k[1] - 1 - kh : kh;                                        \
            const T *wr = w + (((int64_t)oc * g.cg + ic) * g.k[0] + wd) * g.k[1] * g.k[2] + wh * g.k[2]; \
            for (int64_t kw = 0; kw < g.k[2]; kw++) {                                                \
              const int64_t iw = cv_ix_pad((int64_t)ow * g.stride[2] + kw * g.dil[2], g.lo[2], g.in[2], g.padmode); \
              if (iw < 0) continue;                                                                  \
              const int64_t ww = g.flip ? g.k[2] - 1 - kw : kw;                                      \
              const int64_t xo = g.cl ? ((((int64_t)n * g.in[0] + id) * g.in[1] + ih) * g.in[2] + iw) * g.c + cin \
                                      : ((((int64_t)n * g.c + cin) * g.in[0] + id) * g.in[1] + ih) * g.in[2] + iw; \
              acc += (ACC)cv_ld_##sfx(wr[ww]) * (ACC)cv_ld_##sfx(x[xo]);                             \
            }                                                                                        \
          }                                                                                          \
        }                                                                                            \
      }                                                                                              \
      y[idx] = cv_st_##sfx(acc);                                                                     \
    }                                                                                                \
  }

CV_CUDA_CONV_DTYPES(CV_CONV_KERNEL)

/* y[n, oc, s] = b[oc] (NCDHW), before a GEMM that accumulates into y. */
#define CV_BIAS_KERNEL(sfx, T)                                                                       \
  __global__ void __launch_bounds__(CV_CUDA_CONV_BLOCK)                                              \
      cv_conv_bias_##sfx(const T *__restrict__ b, T *__restrict__ y, uint64_t spatial, uint64_t cout, \
                         uint64_t total) {                                                           \
    for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;                \
         idx += (uint64_t)gridDim.x * blockDim.x) {                                                  \
      uint64_t s, oc;                                                                                \
      cv_divmod(cv_divmod(idx, spatial, &s), cout, &oc);                                             \
      y[idx] = b[oc];                                                                                \
    }                                                                                                \
  }
CV_CUDA_DTYPES(CV_BIAS_KERNEL)

extern "C" int cv_cuda_conv_gemm_fits(const cv_cuda_conv_job_t *job) {
  if (job->dt != CV_DTYPE_F32 && job->dt != CV_DTYPE_F64) return 0;
  if (job->groups != 1 || job->channels_last) return 0;
  int64_t s = 1;
  for (int a = 0; a < 3; a++) {
    if (job->k[a] != 1 || job->stride[a] != 1 || job->lo[a] != 0 || job->hi[a] != 0) return 0;
    s *= job->in[a];
  }
  return s <= INT_MAX && job->c <= INT_MAX && job->cout <= INT_MAX && job->n <= INT_MAX &&
         s * job->c <= LLONG_MAX / 2 && s * job->cout <= LLONG_MAX / 2;
}

#ifdef CONVOY_HAVE_CUBLAS
static int cublas_rc(cublasStatus_t st, const char *what) {
  if (st == CUBLAS_STATUS_SUCCESS) return 0;
  fprintf(stderr, "convoy cuda: %s: cuBLAS status %d (%s)\n", what, (int)st, cublasGetStatusString(st));
  return st == CUBLAS_STATUS_ALLOC_FAILED ? -CV_EOUT_OF_MEMORY : -CV_EINTERNAL;
}

static int conv_gemm(const cv_cuda_conv_job_t *job, cudaStream_t s) {
  int rc = 0;
  cublasHandle_t h = (cublasHandle_t)job->cublas;
  const long long S = job->in[0] * job->in[1] * job->in[2];
  const bool f64 = job->dt == CV_DTYPE_F64;
  const uint64_t total = (uint64_t)job->n * (uint64_t)job->cout * (uint64_t)S;
  if (total == 0) return 0;
  if (job->b) {
    const unsigned grid = cv_cuda_grid(total, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
    if (f64)
      cv_conv_bias_f64<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>((const double *)job->b, (double *)job->y, S, job->cout, total);
    else
      cv_conv_bias_f32<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>((const float *)job->b, (float *)job->y, S, job->cout, total);
    CV_CUDA_TRY(cudaGetLastError());
  }
  if ((rc = cublas_rc(cublasSetStream(h, s), "cublasSetStream"))) goto fail;
  {
    const float a32 = 1.0f, b32 = job->b ? 1.0f : 0.0f;
    const double a64 = 1.0, b64 = job->b ? 1.0 : 0.0;
    const cudaDataType_t t = f64 ? CUDA_R_64F : CUDA_R_32F;
    const cublasComputeType_t ct = f64 ? CUBLAS_COMPUTE_64F : job->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    /* row-major Y_n (Cout×S) = W (Cout×C) · X_n (C×S) is column-major Y_nᵀ = X_nᵀ · Wᵀ */
    rc = cublas_rc(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)S, (int)job->cout, (int)job->c,
                                              f64 ? (const void *)&a64 : (const void *)&a32, job->x, t, (int)S,
                                              S * job->c, job->w, t, (int)job->c, 0,
                                              f64 ? (const void *)&b64 : (const void *)&b32, job->y, t, (int)S,
                                              S * job->cout, (int)job->n, ct, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmStridedBatchedEx");
  }
fail:
  return rc;
}
#endif

extern "C" int cv_cuda_conv_launch(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  int rc = 0;
  if (job->groups < 1 || job->c % job->groups || job->cout % job->groups) return -CV_EINTERNAL;
#ifdef CONVOY_HAVE_CUBLAS
  if (job->cublas && (job->algo == CV_CONV_ALGO_AUTO || job->algo == CV_CONV_ALGO_GEMM) && cv_cuda_conv_gemm_fits(job))
    return conv_gemm(job, ws->stream);
#endif
  if (job->algo == CV_CONV_ALGO_GEMM) return -CV_EINTERNAL;   /* supports() said no */
  cv_convk_t g;
  memset(&g, 0, sizeof g);
  g.c = job->c;
  g.cout = job->cout;
  g.cg = job->c / job->groups;
  g.coutg = job->cout / job->groups;
  for (int a = 0; a < 3; a++) {
    g.in[a] = job->in[a];
    g.k[a] = job->k[a];
    g.out[a] = job->out[a];
    g.stride[a] = job->stride[a];
    g.dil[a] = job->dil[a];
    g.lo[a] = job->lo[a];
  }
  g.padmode = job->padmode;
  g.flip = job->flip;
  g.cl = job->channels_last;
  g.has_b = job->b != NULL;
  g.total = (uint64_t)job->n * (uint64_t)job->cout * (uint64_t)(job->out[0] * job->out[1] * job->out[2]);
  if (g.total == 0) return 0;
  {
    const unsigned grid = cv_cuda_grid(g.total, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
    cudaStream_t s = ws->stream;
    if (job->dt == CV_DTYPE_F32)
      cv_conv_direct_f32<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(g, (const float *)job->x, (const float *)job->w,
                                                             (const float *)job->b, (float *)job->y);
    else if (job->dt == CV_DTYPE_F64)
      cv_conv_direct_f64<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(g, (const double *)job->x, (const double *)job->w,
                                                             (const double *)job->b, (double *)job->y);
    else if (job->dt == CV_DTYPE_F16)
      cv_conv_direct_f16<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(g, (const __half *)job->x, (const __half *)job->w,
                                                             (const __half *)job->b, (__half *)job->y);
    else if (job->dt == CV_DTYPE_BF16)
      cv_conv_direct_bf16<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(
          g, (const __nv_bfloat16 *)job->x, (const __nv_bfloat16 *)job->w, (const __nv_bfloat16 *)job->b,
          (__nv_bfloat16 *)job->y);
    else
      return -CV_EINTERNAL;
    CV_CUDA_TRY(cudaGetLastError());
  }
fail:
  return rc;
}
