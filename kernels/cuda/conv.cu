/* conv.cu — the conv op on the GPU (conv.cuh): the own direct kernel, the
 * cuBLAS GEMM candidate, the shared packing kernels and the dispatch to
 * the other candidates (conv_fft.cu, conv_cudnn.c).
 *
 * Direct kernel: one thread per output element, consecutive threads on the
 * output's contiguous axis (ow for NCDHW, the channel for NDHWC), so input
 * loads of a warp are (strided-)contiguous and its weight loads mostly one
 * broadcast. Each thread loops over its group's input channels and the
 * kernel taps, mapping padded positions through cv_ix_pad (zeros, reflect,
 * replicate, circular). Half types load as f32 and accumulate in f32, f64 in
 * f64; one rounding at the store. This is the correctness baseline, not a
 * tuned kernel: no shared-memory tiling and no tensor cores yet.
 * GEMM: pointwise and kernel == stride convs (groups 1, no padding) gather
 * their non-overlapping patches into a column matrix (a permutation, no
 * duplication; skipped for stride-1 pointwise convs, where x already is
 * one) and run one cuBLAS GEMM: NCDHW strided-batched Y_n = W · Col_n,
 * NDHWC one Y = Col · Wᵀ. f16/bf16 use CUBLAS_COMPUTE_32F, f64 _64F, f32
 * _32F unless the job asked for TF32. The bias is written first and the
 * GEMM accumulates into it (beta 1). */
#include <type_traits>
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
#include "conv_cudnn.h"
#include "conv_fft.cuh"
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

/* ---- dtype plumbing for the packing kernels ---- */

template <typename T> static __device__ __forceinline__ double cv_to_d(T v) { return (double)v; }
template <> __device__ __forceinline__ double cv_to_d<__half>(__half v) { return (double)__half2float(v); }
template <> __device__ __forceinline__ double cv_to_d<__nv_bfloat16>(__nv_bfloat16 v) {
  return (double)__bfloat162float(v);
}
template <typename T> static __device__ __forceinline__ T cv_from_d(double v) { return (T)v; }
template <> __device__ __forceinline__ __half cv_from_d<__half>(double v) { return __float2half_rn((float)v); }
template <> __device__ __forceinline__ __nv_bfloat16 cv_from_d<__nv_bfloat16>(double v) {
  return __float2bfloat16_rn((float)v);
}

/* Calls f with a null pointer of t's element type; -CV_EINTERNAL for other dtypes. */
template <typename F> static int with_dtype(cv_dtype_t t, F f) {
  switch (t) {
    case CV_DTYPE_F32: return f((float *)nullptr);
    case CV_DTYPE_F64: return f((double *)nullptr);
    case CV_DTYPE_F16: return f((__half *)nullptr);
    case CV_DTYPE_BF16: return f((__nv_bfloat16 *)nullptr);
    default: break;
  }
  return -CV_EINTERNAL;
}
#define CV_ELEM(p) std::remove_pointer_t<decltype(p)>

static int launch_rc(void) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? 0 : cv__cuda_err(e, "kernel launch", __FILE__, __LINE__);
}

/* ---- pack x ---- */

template <typename S, typename D>
__global__ void __launch_bounds__(CV_CUDA_CONV_BLOCK)
    cv_conv_pack_x_k(const cv_cuda_pack_t pk, const S *__restrict__ src, D *__restrict__ dst, uint64_t total) {
  for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (uint64_t)gridDim.x * blockDim.x) {
    uint64_t rem = idx, p0, p1, p2, c, n;
    if (pk.dst_cl) {
      rem = cv_divmod(rem, (uint64_t)pk.c, &c);
      rem = cv_divmod(rem, (uint64_t)pk.P[2], &p2);
      rem = cv_divmod(rem, (uint64_t)pk.P[1], &p1);
      n = cv_divmod(rem, (uint64_t)pk.P[0], &p0);
    } else {
      rem = cv_divmod(rem, (uint64_t)pk.P[2], &p2);
      rem = cv_divmod(rem, (uint64_t)pk.P[1], &p1);
      rem = cv_divmod(rem, (uint64_t)pk.P[0], &p0);
      n = cv_divmod(rem, (uint64_t)pk.c, &c);
    }
    double v = 0;
    if ((int64_t)p0 < pk.L[0] && (int64_t)p1 < pk.L[1] && (int64_t)p2 < pk.L[2]) {
      int64_t i0 = cv_ix_pad((int64_t)p0, pk.lo[0], pk.in[0], pk.padmode);
      int64_t i1 = cv_ix_pad((int64_t)p1, pk.lo[1], pk.in[1], pk.padmode);
      int64_t i2 = cv_ix_pad((int64_t)p2, pk.lo[2], pk.in[2], pk.padmode);
      if (i0 >= 0 && i1 >= 0 && i2 >= 0) {
        int64_t so = pk.src_cl ? ((((int64_t)n * pk.in[0] + i0) * pk.in[1] + i1) * pk.in[2] + i2) * pk.c + (int64_t)c
                               : ((((int64_t)n * pk.c + (int64_t)c) * pk.in[0] + i0) * pk.in[1] + i1) * pk.in[2] + i2;
        v = cv_to_d(src[so]);
      }
    }
    dst[idx] = cv_from_d<D>(v);
  }
}

extern "C" int cv_cuda_conv_pack_x(const cv_cuda_pack_t *pk, cv_dtype_t src_dt, const void *src, cv_dtype_t dst_dt,
                                   void *dst, cudaStream_t s) {
  uint64_t total = (uint64_t)pk->n * (uint64_t)pk->c * (uint64_t)(pk->P[0] * pk->P[1] * pk->P[2]);
  if (total == 0) return 0;
  const unsigned grid = cv_cuda_grid(total, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
  return with_dtype(src_dt, [&](auto *a) {
    return with_dtype(dst_dt, [&](auto *b) {
      cv_conv_pack_x_k<CV_ELEM(a), CV_ELEM(b)><<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(
          *pk, (const CV_ELEM(a) *)src, (CV_ELEM(b) *)dst, total);
      return launch_rc();
    });
  });
}

/* ---- pack w ---- */

typedef struct cv_wpk_s {
  int64_t cout, cg, k[3], dil[3], P[3];
  int flip, mode;
} cv_wpk_t;

template <typename S, typename D>
__global__ void __launch_bounds__(CV_CUDA_CONV_BLOCK)
    cv_conv_pack_w_k(const cv_wpk_t q, const S *__restrict__ src, D *__restrict__ dst, uint64_t total) {
  for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (uint64_t)gridDim.x * blockDim.x) {
    uint64_t rem = idx, t0, t1, t2, ci, co;
    rem = cv_divmod(rem, (uint64_t)q.k[2], &t2);
    rem = cv_divmod(rem, (uint64_t)q.k[1], &t1);
    rem = cv_divmod(rem, (uint64_t)q.k[0], &t0);
    co = cv_divmod(rem, (uint64_t)q.cg, &ci);
    int64_t d0 = q.flip ? q.k[0] - 1 - (int64_t)t0 : (int64_t)t0;
    int64_t d1 = q.flip ? q.k[1] - 1 - (int64_t)t1 : (int64_t)t1;
    int64_t d2 = q.flip ? q.k[2] - 1 - (int64_t)t2 : (int64_t)t2;
    int64_t o;
    if (q.mode == CV_WPACK_FFT)
      o = ((((int64_t)co * q.cg + (int64_t)ci) * q.P[0] + d0 * q.dil[0]) * q.P[1] + d1 * q.dil[1]) * q.P[2] +
          d2 * q.dil[2];
    else if (q.mode == CV_WPACK_KRSC)
      o = ((((int64_t)co * q.k[0] + d0) * q.k[1] + d1) * q.k[2] + d2) * q.cg + (int64_t)ci;
    else
      o = (((d0 * q.cout + (int64_t)co) * q.k[1] + d1) * q.k[2] + d2) * q.cg + (int64_t)ci;
    dst[o] = cv_from_d<D>(cv_to_d(src[idx]));
  }
}

extern "C" int cv_cuda_conv_pack_w(const cv_conv_geom_t *g, cv_wpack_t mode, const int64_t *P, const void *w,
                                   cv_dtype_t dst_dt, void *dst, cudaStream_t s) {
  cv_wpk_t q;
  memset(&q, 0, sizeof q);
  q.cout = g->cout;
  q.cg = g->c / g->groups;
  for (int a = 0; a < 3; a++) {
    q.k[a] = g->k[a];
    q.dil[a] = g->dil[a];
    q.P[a] = P ? P[a] : 1;
  }
  q.flip = g->flip;
  q.mode = (int)mode;
  uint64_t total = (uint64_t)q.cout * (uint64_t)q.cg * (uint64_t)(q.k[0] * q.k[1] * q.k[2]);
  if (total == 0) return 0;
  const unsigned grid = cv_cuda_grid(total, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
  return with_dtype(g->dt, [&](auto *a) {
    return with_dtype(dst_dt, [&](auto *b) {
      cv_conv_pack_w_k<CV_ELEM(a), CV_ELEM(b)><<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(
          q, (const CV_ELEM(a) *)w, (CV_ELEM(b) *)dst, total);
      return launch_rc();
    });
  });
}

/* ---- unpack y ---- */

typedef struct cv_upk_s {
  int64_t cout, out[3], S[3], ss[3];
  int src_cl, dst_cl, has_b;
  double scale;
} cv_upk_t;

template <typename S, typename D>
__global__ void __launch_bounds__(CV_CUDA_CONV_BLOCK)
    cv_conv_unpack_y_k(const cv_upk_t u, const S *src, const D *__restrict__ b, D *y, uint64_t total) {
  for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (uint64_t)gridDim.x * blockDim.x) {
    uint64_t rem = idx, o0, o1, o2, co, n;
    if (u.dst_cl) {
      rem = cv_divmod(rem, (uint64_t)u.cout, &co);
      rem = cv_divmod(rem, (uint64_t)u.out[2], &o2);
      rem = cv_divmod(rem, (uint64_t)u.out[1], &o1);
      n = cv_divmod(rem, (uint64_t)u.out[0], &o0);
    } else {
      rem = cv_divmod(rem, (uint64_t)u.out[2], &o2);
      rem = cv_divmod(rem, (uint64_t)u.out[1], &o1);
      rem = cv_divmod(rem, (uint64_t)u.out[0], &o0);
      n = cv_divmod(rem, (uint64_t)u.cout, &co);
    }
    int64_t s0 = (int64_t)o0 * u.ss[0], s1 = (int64_t)o1 * u.ss[1], s2 = (int64_t)o2 * u.ss[2];
    int64_t so = u.src_cl ? ((((int64_t)n * u.S[0] + s0) * u.S[1] + s1) * u.S[2] + s2) * u.cout + (int64_t)co
                          : ((((int64_t)n * u.cout + (int64_t)co) * u.S[0] + s0) * u.S[1] + s1) * u.S[2] + s2;
    double v = u.scale != 0 ? u.scale * cv_to_d(src[so]) : 0.0;   /* scale 0: bias only, src unread */
    if (u.has_b) v += cv_to_d(b[co]);
    y[idx] = cv_from_d<D>(v);
  }
}

extern "C" int cv_cuda_conv_unpack_y(const cv_conv_geom_t *g, const cv_cuda_unpack_t *up, cv_dtype_t src_dt,
                                     const void *src, const void *b, void *y, cudaStream_t s) {
  cv_upk_t u;
  memset(&u, 0, sizeof u);
  u.cout = g->cout;
  for (int a = 0; a < 3; a++) {
    u.out[a] = g->out[a];
    u.S[a] = up->S[a];
    u.ss[a] = up->ss[a];
  }
  u.src_cl = up->src_cl;
  u.dst_cl = g->channels_last;
  u.has_b = b != NULL;
  u.scale = up->scale;
  uint64_t total = (uint64_t)g->n * (uint64_t)g->cout * (uint64_t)(g->out[0] * g->out[1] * g->out[2]);
  if (total == 0) return 0;
  const unsigned grid = cv_cuda_grid(total, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
  return with_dtype(src_dt, [&](auto *a) {
    return with_dtype(g->dt, [&](auto *d) {
      cv_conv_unpack_y_k<CV_ELEM(a), CV_ELEM(d)><<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(
          u, (const CV_ELEM(a) *)src, (const CV_ELEM(d) *)b, (CV_ELEM(d) *)y, total);
      return launch_rc();
    });
  });
}

/* ---- GEMM: pointwise and kernel == stride ---- */

/* Col[n, ck, o] (NCDHW) or Col[n, o, ck] (NDHWC), ck = (ci, t0, t1, t2) as in
 * w, o = (o0, o1, o2): x at o·stride + t (taps reversed when flip). */
template <typename T>
__global__ void __launch_bounds__(CV_CUDA_CONV_BLOCK)
    cv_conv_gather_k(const cv_convk_t g, const T *__restrict__ x, T *__restrict__ col, uint64_t total) {
  const int64_t K = g.k[0] * g.k[1] * g.k[2], O = g.out[0] * g.out[1] * g.out[2];
  for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (uint64_t)gridDim.x * blockDim.x) {
    uint64_t rem = idx, ck, o, n;
    if (g.cl) {
      rem = cv_divmod(rem, (uint64_t)(g.c * K), &ck);
      n = cv_divmod(rem, (uint64_t)O, &o);
    } else {
      rem = cv_divmod(rem, (uint64_t)O, &o);
      n = cv_divmod(rem, (uint64_t)(g.c * K), &ck);
    }
    uint64_t t0, t1, t2, ci, o0, o1, o2;
    rem = cv_divmod(ck, (uint64_t)g.k[2], &t2);
    rem = cv_divmod(rem, (uint64_t)g.k[1], &t1);
    ci = cv_divmod(rem, (uint64_t)g.k[0], &t0);
    rem = cv_divmod(o, (uint64_t)g.out[2], &o2);
    o0 = cv_divmod(rem, (uint64_t)g.out[1], &o1);
    int64_t i0 = (int64_t)o0 * g.stride[0] + (g.flip ? g.k[0] - 1 - (int64_t)t0 : (int64_t)t0);
    int64_t i1 = (int64_t)o1 * g.stride[1] + (g.flip ? g.k[1] - 1 - (int64_t)t1 : (int64_t)t1);
    int64_t i2 = (int64_t)o2 * g.stride[2] + (g.flip ? g.k[2] - 1 - (int64_t)t2 : (int64_t)t2);
    int64_t xo = g.cl ? ((((int64_t)n * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2) * g.c + (int64_t)ci
                      : ((((int64_t)n * g.c + (int64_t)ci) * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2;
    col[idx] = x[xo];
  }
}

static void convk_of(const cv_conv_geom_t *j, cv_convk_t *g) {
  memset(g, 0, sizeof *g);
  g->c = j->c;
  g->cout = j->cout;
  g->cg = j->c / j->groups;
  g->coutg = j->cout / j->groups;
  for (int a = 0; a < 3; a++) {
    g->in[a] = j->in[a];
    g->k[a] = j->k[a];
    g->out[a] = j->out[a];
    g->stride[a] = j->stride[a];
    g->dil[a] = j->dil[a];
    g->lo[a] = j->lo[a];
  }
  g->padmode = j->padmode;
  g->flip = j->flip;
  g->cl = j->channels_last;
}

#ifdef CONVOY_HAVE_CUBLAS
static int cublas_rc(cublasStatus_t st, const char *what) {
  if (st == CUBLAS_STATUS_SUCCESS) return 0;
  fprintf(stderr, "convoy cuda: %s: cuBLAS status %d (%s)\n", what, (int)st, cublasGetStatusString(st));
  return st == CUBLAS_STATUS_ALLOC_FAILED ? -CV_EOUT_OF_MEMORY : -CV_EINTERNAL;
}

static int conv_gemm(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  const cv_conv_geom_t *g = &job->g;
  cudaStream_t s = ws->stream;
  cublasHandle_t h = (cublasHandle_t)job->cublas;
  int rc = 0;
  const long long K = g->k[0] * g->k[1] * g->k[2], CK = g->c * K, O = g->out[0] * g->out[1] * g->out[2];
  const uint64_t total = (uint64_t)g->n * (uint64_t)g->cout * (uint64_t)O;
  if (total == 0) return 0;
  bool gather = K != 1 || g->stride[0] != 1 || g->stride[1] != 1 || g->stride[2] != 1;
  const void *col = job->x;
  if (gather) {
    void *buf = NULL;
    uint64_t n_col = (uint64_t)g->n * (uint64_t)CK * (uint64_t)O;
    CV_TRY(cv__cuda_ws_alloc(ws, n_col * cv_dtype_size(g->dt), &buf));
    cv_convk_t k;
    convk_of(g, &k);
    const unsigned grid = cv_cuda_grid(n_col, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
    CV_TRY(with_dtype(g->dt, [&](auto *e) {
      cv_conv_gather_k<CV_ELEM(e)><<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(k, (const CV_ELEM(e) *)job->x,
                                                                      (CV_ELEM(e) *)buf, n_col);
      return launch_rc();
    }));
    col = buf;
  }
  if (job->b) {   /* y = b, then the GEMM accumulates */
    cv_cuda_unpack_t u = {{g->out[0], g->out[1], g->out[2]}, {0, 0, 0}, g->channels_last, 0.0};
    CV_TRY(cv_cuda_conv_unpack_y(g, &u, g->dt, job->y, job->b, job->y, s));
  }
  CV_TRY(cublas_rc(cublasSetStream(h, s), "cublasSetStream"));
  {
    const bool f64 = g->dt == CV_DTYPE_F64;
    const float a32 = 1.0f, b32 = job->b ? 1.0f : 0.0f;
    const double a64 = 1.0, b64 = job->b ? 1.0 : 0.0;
    const void *alpha = f64 ? (const void *)&a64 : (const void *)&a32, *beta = f64 ? (const void *)&b64 : (const void *)&b32;
    cudaDataType_t t = CUDA_R_32F;
    cublasComputeType_t ct = g->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    if (f64) t = CUDA_R_64F, ct = CUBLAS_COMPUTE_64F;
    if (g->dt == CV_DTYPE_F16) t = CUDA_R_16F, ct = CUBLAS_COMPUTE_32F;
    if (g->dt == CV_DTYPE_BF16) t = CUDA_R_16BF, ct = CUBLAS_COMPUTE_32F;
    if (g->channels_last) {
      /* row-major Y (N·O × Cout) = Col (N·O × CK) · Wᵀ: column-major Yᵀ = W · Colᵀ */
      rc = cublas_rc(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)g->cout, (int)(g->n * O), (int)CK, alpha, job->w, t,
                                  (int)CK, col, t, (int)CK, beta, job->y, t, (int)g->cout, ct, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx");
    } else {
      /* row-major Y_n (Cout × O) = W (Cout × CK) · Col_n (CK × O): column-major Y_nᵀ = Col_nᵀ · Wᵀ */
      rc = cublas_rc(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)O, (int)g->cout, (int)CK, alpha, col,
                                                t, (int)O, O * CK, job->w, t, (int)CK, 0, beta, job->y, t, (int)O,
                                                O * g->cout, (int)g->n, ct, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmStridedBatchedEx");
    }
  }
fail:
  return rc;
}
#endif

/* ---- the direct kernel ---- */

static int conv_direct(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  int rc = 0;
  cv_convk_t g;
  convk_of(&job->g, &g);
  g.has_b = job->b != NULL;
  g.total = (uint64_t)job->g.n * (uint64_t)job->g.cout * (uint64_t)(g.out[0] * g.out[1] * g.out[2]);
  if (g.total == 0) return 0;
  const unsigned grid = cv_cuda_grid(g.total, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
  cudaStream_t s = ws->stream;
  switch (job->g.dt) {
    case CV_DTYPE_F32:
      cv_conv_direct_f32<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(g, (const float *)job->x, (const float *)job->w,
                                                             (const float *)job->b, (float *)job->y);
      break;
    case CV_DTYPE_F64:
      cv_conv_direct_f64<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(g, (const double *)job->x, (const double *)job->w,
                                                             (const double *)job->b, (double *)job->y);
      break;
    case CV_DTYPE_F16:
      cv_conv_direct_f16<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(g, (const __half *)job->x, (const __half *)job->w,
                                                             (const __half *)job->b, (__half *)job->y);
      break;
    case CV_DTYPE_BF16:
      cv_conv_direct_bf16<<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(g, (const __nv_bfloat16 *)job->x,
                                                              (const __nv_bfloat16 *)job->w,
                                                              (const __nv_bfloat16 *)job->b, (__nv_bfloat16 *)job->y);
      break;
    default: return -CV_EINTERNAL;
  }
  CV_CUDA_TRY(cudaGetLastError());
fail:
  return rc;
}

/* ---- dispatch ---- */

extern "C" int cv_cuda_conv_run(const cv_cuda_conv_job_t *job, cv_conv_algo_t algo, cv_cuda_ws_t *ws) {
  const cv_conv_geom_t *g = &job->g;
  if (g->groups < 1 || g->c % g->groups || g->cout % g->groups) return -CV_EINTERNAL;
  switch (algo) {
    case CV_CONV_ALGO_DIRECT: return conv_direct(job, ws);
    case CV_CONV_ALGO_GEMM:
#ifdef CONVOY_HAVE_CUBLAS
      if (job->cublas) return conv_gemm(job, ws);
#endif
      return -CV_EUNSUPPORTED_OP;
    case CV_CONV_ALGO_FFT: return cv_cuda_conv_fft(job, ws);
    case CV_CONV_ALGO_CUDNN: return cv_cuda_conv_cudnn(job, ws);
    case CV_CONV_ALGO_DEPTHTAP: return cv_cuda_conv_depthtap(job, ws);
    case CV_CONV_ALGO_AUTO:
    case CV_CONV_ALGO_COUNT: break;
  }
  return -CV_EINTERNAL;
}
