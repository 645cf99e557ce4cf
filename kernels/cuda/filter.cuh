/* filter.cuh — the 1-D filter pass that the CUDA dwt and sepconv share: a
 * strided, dilated correlation along one axis with pywt's boundary
 * extensions, one or two tap sets (dwt: lo and hi from one read), over a
 * stack of sub-arrays. Plain C launcher; called on the device worker. */
#ifndef CV_CUDA_FILTER_CUH
#define CV_CUDA_FILTER_CUH

#include "cuda_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_CUDA_FILT_BLOCK 256            /* threads per block, both kernels */
#define CV_CUDA_FILT_TILE 256             /* outputs per block in the row kernel */
#define CV_CUDA_FILT_MAX_TAPS 256         /* all tap sets together */
#define CV_CUDA_FILT_SMEM_MAX (40 * 1024) /* row tile + taps; above: the column kernel */

/* Input: nsub sub-arrays stacked, each (outer, n, inner), dense. Output:
 * nsub·nout sub-arrays, each (outer, m, inner); input k with tap set s
 * writes output sub-array k·nout + s. Output j, tap t reads the extended
 * input at j·stride + t·dilation + offset (cv_ix_ext_terms with mode). */
typedef struct cv_cuda_filt_s {
  int64_t outer, n, m, inner;
  int nsub, nout;
  int ntaps, stride, dilation;
  int64_t offset;
  cv_mode_t mode;
  double taps[CV_CUDA_FILT_MAX_TAPS];   /* set s at s·ntaps; rounded to the dtype on the device */
} cv_cuda_filt_t;

/* dt: CV_DTYPE_F32 or CV_DTYPE_F64 (complex runs as a trailing axis of 2).
 * x and y must not overlap. 0 or -CV_E…. */
int cv_cuda_filt_launch(const cv_cuda_filt_t *f, cv_dtype_t dt, const void *x, void *y, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
