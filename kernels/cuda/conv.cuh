/* conv.cuh — the conv op (PyTorch conv1d/2d/3d) on the GPU for one job, as
 * a menu of candidates (conv_select.h says which applies): convoy's own
 * direct kernel (any groups, depthwise and tiny channel counts; every
 * padding mode, flip, both layouts; f32, f64, f16/bf16 accumulating in
 * f32), a cuBLAS GEMM for pointwise and kernel == stride convs, cuFFT for
 * large kernels (conv_fft.cuh), cuDNN's graph API in NDHWC and the
 * depth-tap decomposition (conv_cudnn.h). Also the layout/padding/dtype
 * packing kernels those paths share. Plain C launchers; device worker only. */
#ifndef CV_CUDA_CONV_CUH
#define CV_CUDA_CONV_CUH

#include <string.h>

#include "conv_select.h"
#include "cuda_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_CUDA_CONV_BLOCK 256

typedef struct cv_cuda_conv_job_s {
  cv_conv_geom_t g;                /* geometry, dtype, layout, precision */
  void *cublas;                    /* cublasHandle_t, or NULL */
  void *cudnn;                     /* cudnnHandle_t, or NULL */
  const void *x, *w, *b;           /* device pointers; b may be NULL */
  void *y;
} cv_cuda_conv_job_t;

/* Runs candidate `algo` (not AUTO) on ws->stream. 0 or -CV_E…; a candidate
 * the build or the device lacks gives -CV_EUNSUPPORTED_OP. */
int cv_cuda_conv_run(const cv_cuda_conv_job_t *job, cv_conv_algo_t algo, cv_cuda_ws_t *ws);

/* ---- shared packing kernels (conv.cu) ---- */

/* dst[n, c, p0, p1, p2] (or channels-last [n, p0, p1, p2, c]) for p < P:
 * the padded input at p (padding mode of the job, lo as given) when p < L,
 * else 0; dtype dst_dt (x's dtype, or F32/F64 for the FFT). */
typedef struct cv_cuda_pack_s {
  int64_t n, c, in[3], lo[3], L[3], P[3];
  cv_padmode_t padmode;
  int src_cl, dst_cl;
} cv_cuda_pack_t;
int cv_cuda_conv_pack_x(const cv_cuda_pack_t *pk, cv_dtype_t src_dt, const void *src, cv_dtype_t dst_dt, void *dst,
                        cudaStream_t s);

/* The pack of g's input with x at lo (NULL = 0) in a logical grid L, held
 * in a buffer of P per axis (NULL = L), channels-last when dst_cl. */
static inline void cv_cuda_pack_of(cv_cuda_pack_t *pk, const cv_conv_geom_t *g, const int64_t *lo, const int64_t *L,
                                   const int64_t *P, int dst_cl) {
  memset(pk, 0, sizeof *pk);
  pk->n = g->n;
  pk->c = g->c;
  for (int a = 0; a < 3; a++) {
    pk->in[a] = g->in[a];
    pk->lo[a] = lo ? lo[a] : 0;
    pk->L[a] = L[a];
    pk->P[a] = P ? P[a] : L[a];
  }
  pk->padmode = g->padmode;
  pk->src_cl = g->channels_last;
  pk->dst_cl = dst_cl;
}

/* Weights (Cout, Cg, k0, k1, k2) → one of three layouts, taps reversed on
 * every axis when flip; dst_dt as for pack_x. FFT: (Cout, Cg, P0, P1, P2)
 * with tap t at t·dil, zeros elsewhere (the caller zeroes dst first). */
typedef enum { CV_WPACK_FFT, CV_WPACK_KRSC, CV_WPACK_TAP_KRSC } cv_wpack_t;
int cv_cuda_conv_pack_w(const cv_conv_geom_t *g, cv_wpack_t mode, const int64_t *P, const void *w, cv_dtype_t dst_dt,
                        void *dst, cudaStream_t s);

/* y (job dtype and layout) [n, co, o] = scale · src[n, co, o·ss] + b[co]:
 * src has dtype src_dt, spatial dims S and layout src_cl. In place when
 * src == y with the same dtype, layout and ss = 1. */
typedef struct cv_cuda_unpack_s {
  int64_t S[3], ss[3];
  int src_cl;
  double scale;
} cv_cuda_unpack_t;
int cv_cuda_conv_unpack_y(const cv_conv_geom_t *g, const cv_cuda_unpack_t *u, cv_dtype_t src_dt, const void *src,
                          const void *b, void *y, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
