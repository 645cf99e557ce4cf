/* sepconv.cuh — the sepconv op on the GPU: its filters applied in order, one
 * filter pass (filter.cu) each, over one batch of same-shape jobs, the
 * intermediates on the device. Plain C launcher; the backend (run_cuda.c)
 * uploads x and downloads y. Called on the device worker thread. */
#ifndef CV_CUDA_SEPCONV_CUH
#define CV_CUDA_SEPCONV_CUH

#include "cuda_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Real view: the batch-of-jobs axis first, complex as a trailing axis of 2;
 * a filter's axis a (resolved by cv_op_infer, >= 0) is a + axis_shift here. */
typedef struct cv_cuda_sepconv_job_s {
  cv_dtype_t dt;                       /* CV_DTYPE_F32 or CV_DTYPE_F64 */
  int rank;
  int64_t shape[CV_CUDA_MAX_RANK];     /* x */
  int axis_shift;
  const cv_sepconv_params_t *p;
  const void *x;
  void *y;                             /* the shape after every filter */
} cv_cuda_sepconv_job_t;

/* Output length of filter f on an axis of n samples (as cv_op_infer). */
int64_t cv_cuda_sepconv_out_len(const cv_sepconv_filter_t *f, int64_t n);

/* 0 or -CV_E…; temporaries from ws, launches on ws->stream. */
int cv_cuda_sepconv_launch(const cv_cuda_sepconv_job_t *job, cv_cuda_ws_t *ws);

#ifdef __cplusplus
}
#endif

#endif
