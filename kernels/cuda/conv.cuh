/* conv.cuh — the conv op (PyTorch conv1d/2d/3d) on the GPU for one job:
 * convoy's own direct kernel (any groups, depthwise included; stride,
 * dilation, the four padding modes, flip, both layouts; f32, f64, and
 * f16/bf16 accumulating in f32) and a cuBLAS GEMM for pointwise (1×1×1)
 * convs. No cuDNN path yet. Plain C launcher; called on the device worker. */
#ifndef CV_CUDA_CONV_CUH
#define CV_CUDA_CONV_CUH

#include "cuda_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_CUDA_CONV_BLOCK 256

/* Geometry as 3-D (conv1d/2d have leading spatial sizes of 1), resolved
 * padding lo (hi is implied by out), w (Cout, C/groups, k0, k1, k2). */
typedef struct cv_cuda_conv_job_s {
  cv_dtype_t dt;                   /* F32, F64, F16 or BF16 for x, w, b and y */
  int64_t n, c, cout, groups;
  int64_t in[3], k[3], out[3], stride[3], dil[3], lo[3], hi[3];
  cv_padmode_t padmode;
  int flip;                        /* true convolution: taps reversed on every spatial axis */
  int channels_last;               /* x and y (N, *spatial, C) */
  cv_conv_algo_t algo;             /* auto, direct, gemm or depthtap (others never reach here) */
  int tf32;                        /* precision "tf32": allowed in the GEMM */
  void *cublas;                    /* cublasHandle_t, or NULL */
  const void *x, *w, *b;           /* b may be NULL */
  void *y;
} cv_cuda_conv_job_t;

/* True when the GEMM path can run the job (1×1×1, stride 1, no padding,
 * groups 1, NCDHW, f32/f64, sizes within int). Pure; used by supports. */
int cv_cuda_conv_gemm_fits(const cv_cuda_conv_job_t *job);

/* 0 or -CV_E…; launches on ws->stream. */
int cv_cuda_conv_launch(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws);

#ifdef __cplusplus
}
#endif

#endif
