/* idwt.cu — the multilevel n-D idwt on the GPU (idwt.cuh) and the crop kernel.
 *
 * Each level runs one upsampling pass per transformed axis, last axis first:
 * pass i combines the band pairs (2k, 2k+1) of 2^(i+1) stacked sub-arrays
 * into 2^i, so the stack built in pywt's key order folds down to the level's
 * result. A pass computes only the samples that survive pywt's trimming or
 * the `shape` crop; a band that was not given is skipped through a bit mask
 * (no zero-filled buffers). A crop on a non-transformed axis, which pywt's
 * trimming can ask for, is a separate copy. Thread mapping: consecutive
 * threads take consecutive elements of the contiguous axis; along a strided
 * axis each tap is a coalesced load, along the contiguous axis neighbouring
 * outputs share their inputs through L1. Levels chain on the device. */
#include <stdlib.h>
#include <string.h>

#include "../dwt_index.h"
#include "device_util.cuh"
#include "idwt.cuh"

typedef struct cv_ipass_s {
  int64_t outer, m, mo, inner;   /* per sub-array: (outer, m, inner) → (outer, mo, inner) */
  int nsub_out, F, per;          /* per: periodization */
  uint32_t present[CV_CUDA_IDWT_MASK_WORDS];   /* input sub-arrays that hold data */
  double f[2][CV_WAVELET_MAX_LEN];             /* rec_lo (on slot 2k), rec_hi (on 2k+1) */
} cv_ipass_t;

/* Output t of one axis: pywt's upsampling convolution. Not periodization:
 * out[2u+r] = Σ_s Σ_{q<h} f_s[2q+r]·c_s[u+h−1−q] (always inside the band);
 * periodization: out[t] = Σ_s Σ_{c: t+h−1−c even} f_s[c]·c_s[((t+h−1−c)/2) mod m]. */
#define CV_IPASS_KERNEL(sfx, T)                                                                      \
  __global__ void __launch_bounds__(CV_CUDA_IDWT_BLOCK)                                              \
      cv_ipass_##sfx(const cv_ipass_t p, const T *__restrict__ x, T *__restrict__ y) {               \
    __shared__ T fs[2][CV_WAVELET_MAX_LEN];                                                          \
    for (int k = threadIdx.x; k < 2 * p.F; k += blockDim.x) fs[k / p.F][k % p.F] = (T)p.f[k / p.F][k % p.F]; \
    __syncthreads();                                                                                 \
    const uint64_t inner = (uint64_t)p.inner, mo = (uint64_t)p.mo;                                   \
    const uint64_t total = (uint64_t)p.nsub_out * (uint64_t)p.outer * mo * inner;                    \
    const int h = p.F / 2;                                                                           \
    for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;                \
         idx += (uint64_t)gridDim.x * blockDim.x) {                                                  \
      uint64_t i, t, o;                                                                              \
      const uint64_t r = cv_divmod(idx, inner, &i);                                                  \
      const uint64_t row = cv_divmod(r, mo, &t);                                                     \
      const uint64_t k = cv_divmod(row, (uint64_t)p.outer, &o);                                      \
      T acc = 0;                                                                                     \
      for (int s = 0; s < 2; s++) {                                                                  \
        const uint64_t sub = 2 * k + (uint64_t)s;                                                    \
        if (!((p.present[sub >> 5] >> (sub & 31)) & 1u)) continue;                                   \
        const T *c = x + (sub * (uint64_t)p.outer + o) * (uint64_t)p.m * inner + i;                  \
        if (!p.per) {                                                                                \
          const int64_t u = (int64_t)(t >> 1), rr = (int64_t)(t & 1);                                \
          for (int q = 0; q < h; q++) acc += fs[s][2 * q + rr] * c[(u + h - 1 - q) * (int64_t)inner]; \
        } else {                                                                                     \
          const int64_t base = (int64_t)t + h - 1;                                                   \
          for (int cc = (int)(base & 1); cc < p.F; cc += 2)                                          \
            acc += fs[s][cc] * c[cv_ix_mod((base - cc) / 2, p.m) * (int64_t)inner];                  \
        }                                                                                            \
      }                                                                                              \
      y[idx] = acc;                                                                                  \
    }                                                                                                \
  }

CV_CUDA_DTYPES(CV_IPASS_KERNEL)

typedef struct cv_crop_s {
  int rank;
  int64_t dshape[CV_CUDA_MAX_RANK], sstride[CV_CUDA_MAX_RANK];
  uint64_t total;
} cv_crop_t;

#define CV_CROP_KERNEL(sfx, T)                                                                       \
  __global__ void __launch_bounds__(CV_CUDA_CROP_BLOCK)                                              \
      cv_crop_##sfx(const cv_crop_t c, const T *__restrict__ src, T *__restrict__ dst) {             \
    for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < c.total;              \
         idx += (uint64_t)gridDim.x * blockDim.x) {                                                  \
      uint64_t rem = idx, off = 0;                                                                   \
      for (int d = c.rank - 1; d >= 0; d--) {                                                        \
        uint64_t q;                                                                                  \
        rem = cv_divmod(rem, (uint64_t)c.dshape[d], &q);                                             \
        off += q * (uint64_t)c.sstride[d];                                                           \
      }                                                                                              \
      dst[idx] = src[off];                                                                           \
    }                                                                                                \
  }

CV_CROP_KERNEL(u32, uint32_t)
CV_CROP_KERNEL(u64, uint64_t)

extern "C" int cv_cuda_crop_launch(size_t es, int rank, const int64_t *sshape, const int64_t *dshape,
                                   const void *src, void *dst, cudaStream_t s) {
  int rc = 0;
  if ((es != 4 && es != 8 && es != 16) || rank < 1 || rank > CV_CUDA_MAX_RANK) return -CV_EINTERNAL;
  cv_crop_t c;
  memset(&c, 0, sizeof c);
  c.rank = rank;
  int64_t st = 1;
  for (int d = rank - 1; d >= 0; d--) {
    if (dshape[d] > sshape[d] || dshape[d] < 0) return -CV_EINTERNAL;
    c.dshape[d] = dshape[d];
    c.sstride[d] = st;
    st *= sshape[d];
  }
  if (es == 16) {   /* as pairs of 8-byte words: a trailing axis of 2 */
    if (rank == CV_CUDA_MAX_RANK) return -CV_EINTERNAL;
    for (int d = 0; d < rank; d++) c.sstride[d] *= 2;
    c.dshape[rank] = 2;
    c.sstride[rank] = 1;
    c.rank = rank + 1;
    es = 8;
  }
  c.total = (uint64_t)cv__cuda_numel(c.dshape, c.rank);
  if (c.total == 0) return 0;
  const unsigned grid = cv_cuda_grid(c.total, CV_CUDA_CROP_BLOCK, CV_CUDA_MAX_GRID);
  if (es == 4)
    cv_crop_u32<<<grid, CV_CUDA_CROP_BLOCK, 0, s>>>(c, (const uint32_t *)src, (uint32_t *)dst);
  else
    cv_crop_u64<<<grid, CV_CUDA_CROP_BLOCK, 0, s>>>(c, (const uint64_t *)src, (uint64_t *)dst);
  CV_CUDA_TRY(cudaGetLastError());
fail:
  return rc;
}

/* ---- the levels ---- */

static bool needs_crop(const cv_cuda_idwt_job_t *job, int j, int64_t *after) {
  for (int d = 0; d < job->rank; d++) after[d] = job->band[j][d];
  for (int i = 0; i < job->n_axes; i++) after[job->axes[i]] = job->res[j][job->axes[i]];
  for (int d = 0; d < job->rank; d++)
    if (after[d] != job->res[j][d]) return true;
  return false;
}

extern "C" int cv_cuda_idwt_launch(const cv_cuda_idwt_job_t *job, cv_cuda_ws_t *ws) {
  int rc = 0, n = job->n_axes;
  cv_ipass_t *p = NULL;
  if (job->start < 1 || job->start > CV_DWT_MAX_LEVEL || n < 1 || n > CV_MAX_DIMS || job->rank > CV_CUDA_MAX_RANK)
    return -CV_EINTERNAL;
  for (int i = 0; i < n; i++) {
    int F = job->wavelets[i]->len;
    if (job->axes[i] < 0 || job->axes[i] >= job->rank || F < 2 || F % 2 || F > CV_WAVELET_MAX_LEN) return -CV_EINTERNAL;
  }
  const size_t es = job->dt == CV_DTYPE_F32 ? sizeof(float) : sizeof(double);

  /* the largest intermediate (passes n−1..1) and crop temporary of any level */
  size_t inter = 0, crop = 0;
  for (int j = job->start; j >= 1; j--) {
    int64_t shape[CV_CUDA_MAX_RANK], after[CV_CUDA_MAX_RANK];
    memcpy(shape, job->band[j], sizeof shape);
    for (int i = n - 1; i >= 1; i--) {
      shape[job->axes[i]] = job->res[j][job->axes[i]];
      size_t sz = ((size_t)1 << i) * (size_t)cv__cuda_numel(shape, job->rank);
      if (sz > inter) inter = sz;
    }
    if (needs_crop(job, j, after) && (size_t)cv__cuda_numel(after, job->rank) > crop)
      crop = (size_t)cv__cuda_numel(after, job->rank);
  }
  void *ping[2] = {NULL, NULL}, *tmp = NULL;
  if (n >= 2) CV_TRY(cv__cuda_ws_alloc(ws, inter * es, &ping[0]));
  if (n >= 3) CV_TRY(cv__cuda_ws_alloc(ws, inter * es, &ping[1]));
  if (crop) CV_TRY(cv__cuda_ws_alloc(ws, crop * es, &tmp));
  p = (cv_ipass_t *)calloc(1, sizeof *p);
  if (!p) return -CV_EOUT_OF_MEMORY;

  for (int j = job->start; j >= 1; j--) {
    int64_t shape[CV_CUDA_MAX_RANK], after[CV_CUDA_MAX_RANK];
    memcpy(shape, job->band[j], sizeof shape);
    bool crop_j = needs_crop(job, j, after);
    void *dest = j > 1 ? job->stack[j - 1] : job->x;
    const void *in = job->stack[j];
    for (int i = n - 1; i >= 0; i--) {
      const cv_wavelet_t *w = job->wavelets[i];
      int ax = job->axes[i];
      p->outer = cv__cuda_numel(shape, ax);
      p->m = shape[ax];
      p->mo = job->res[j][ax];
      p->inner = cv__cuda_numel(shape + ax + 1, job->rank - ax - 1);
      p->nsub_out = 1 << i;
      p->F = w->len;
      p->per = job->modes[i] == CV_MODE_PERIODIZATION;
      for (int k = 0; k < CV_CUDA_IDWT_MASK_WORDS; k++) p->present[k] = i == n - 1 ? job->present[j][k] : ~0u;
      memcpy(p->f[0], w->rec_lo, sizeof(double) * (size_t)w->len);
      memcpy(p->f[1], w->rec_hi, sizeof(double) * (size_t)w->len);
      void *out = i == 0 ? (crop_j ? tmp : dest) : ping[(n - 1 - i) & 1];
      uint64_t total = (uint64_t)p->nsub_out * (uint64_t)p->outer * (uint64_t)p->mo * (uint64_t)p->inner;
      if (total > 0) {
        const unsigned grid = cv_cuda_grid(total, CV_CUDA_IDWT_BLOCK, CV_CUDA_MAX_GRID);
        if (job->dt == CV_DTYPE_F32)
          cv_ipass_f32<<<grid, CV_CUDA_IDWT_BLOCK, 0, ws->stream>>>(*p, (const float *)in, (float *)out);
        else
          cv_ipass_f64<<<grid, CV_CUDA_IDWT_BLOCK, 0, ws->stream>>>(*p, (const double *)in, (double *)out);
        CV_CUDA_TRY(cudaGetLastError());
      }
      shape[ax] = p->mo;
      in = out;
    }
    if (crop_j) CV_TRY(cv_cuda_crop_launch(es, job->rank, after, job->res[j], tmp, dest, ws->stream));
  }
fail:
  free(p);
  return rc;
}
