/* sepconv.cu — the sepconv op on the GPU (sepconv.cuh): y[i] = Σ_t
 * taps[t]·xp[i·stride + t·dilation] per filter, in the filters' order, xp
 * being x extended by the filter's mode with pad_lo samples before x[0]
 * (pywt.pad rules for any width; "same"/"valid" resolved by cv_op_infer).
 * Each filter is one pass of the shared kernel in filter.cu: a strided axis
 * reads coalesced along the contiguous axis; the contiguous axis is tiled
 * through shared memory with its halo (see filter.cu). Intermediates
 * ping-pong between two device buffers; the last filter writes y.
 * Next step (not done): fuse consecutive short filters on different axes
 * into one pass, as the CPU executor does per output row. */
#include <stdlib.h>
#include <string.h>

#include "filter.cuh"
#include "sepconv.cuh"

extern "C" int64_t cv_cuda_sepconv_out_len(const cv_sepconv_filter_t *f, int64_t n) {
  int64_t q = n + f->pad_lo + f->pad_hi - (int64_t)f->dilation * (f->ntaps - 1) - 1;
  return q < 0 ? -1 : q / f->stride + 1;
}

extern "C" int cv_cuda_sepconv_launch(const cv_cuda_sepconv_job_t *job, cv_cuda_ws_t *ws) {
  const cv_sepconv_params_t *p = job->p;
  int rc = 0, nf = p->n_filters;
  cv_cuda_filt_t *f = NULL;
  if (nf < 1 || nf > CV_SEPCONV_MAX_FILTERS || job->rank > CV_CUDA_MAX_RANK) return -CV_EINTERNAL;
  const size_t es = job->dt == CV_DTYPE_F32 ? sizeof(float) : sizeof(double);

  /* shapes after each filter; the largest intermediate */
  int64_t shape[CV_CUDA_MAX_RANK];
  memcpy(shape, job->shape, sizeof shape);
  size_t inter = 0;
  for (int i = 0; i < nf; i++) {
    const cv_sepconv_filter_t *fl = &p->filters[i];
    int ax = fl->axis + job->axis_shift;
    if (fl->axis < 0 || ax >= job->rank || fl->ntaps < 1 || fl->ntaps > CV_CUDA_FILT_MAX_TAPS ||
        fl->stride < 1 || fl->dilation < 1 || fl->pad_lo < 0 || fl->pad_hi < 0 ||
        fl->mode == CV_MODE_PERIODIZATION || (unsigned)fl->mode >= CV_MODE_COUNT || shape[ax] < 1)
      return -CV_EINTERNAL;
    shape[ax] = cv_cuda_sepconv_out_len(fl, shape[ax]);
    if (shape[ax] < 1) return -CV_EINTERNAL;
    if (i + 1 < nf && (size_t)cv__cuda_numel(shape, job->rank) > inter)
      inter = (size_t)cv__cuda_numel(shape, job->rank);
  }
  if (cv__cuda_numel(job->shape, job->rank) == 0) return 0;

  void *ping[2] = {NULL, NULL};
  if (nf >= 2) CV_TRY(cv__cuda_ws_alloc(ws, inter * es, &ping[0]));
  if (nf >= 3) CV_TRY(cv__cuda_ws_alloc(ws, inter * es, &ping[1]));
  f = (cv_cuda_filt_t *)calloc(1, sizeof *f);
  if (!f) return -CV_EOUT_OF_MEMORY;

  memcpy(shape, job->shape, sizeof shape);
  {
    const void *in = job->x;
    for (int i = 0; i < nf; i++) {
      const cv_sepconv_filter_t *fl = &p->filters[i];
      int ax = fl->axis + job->axis_shift;
      int flip = fl->flip < 0 ? (p->flip ? 1 : 0) : (fl->flip != 0);
      f->outer = cv__cuda_numel(shape, ax);
      f->n = shape[ax];
      f->inner = cv__cuda_numel(shape + ax + 1, job->rank - ax - 1);
      f->m = cv_cuda_sepconv_out_len(fl, f->n);
      f->nsub = 1;
      f->nout = 1;
      f->ntaps = fl->ntaps;
      f->stride = fl->stride;
      f->dilation = fl->dilation;
      f->offset = -fl->pad_lo;
      f->mode = fl->mode;
      for (int t = 0; t < fl->ntaps; t++) f->taps[t] = fl->taps[flip ? fl->ntaps - 1 - t : t];
      void *out = i == nf - 1 ? job->y : ping[i & 1];
      CV_TRY(cv_cuda_filt_launch(f, job->dt, in, out, ws->stream));
      shape[ax] = f->m;
      in = out;
    }
  }
fail:
  free(f);
  return rc;
}
