/* conv_select.h — plain C (no CUDA) half of the GPU conv algorithm menu:
 * the resolved 3-D geometry of one conv job, which candidates (direct,
 * gemm, fft, cudnn, depthtap) can run it and which the auto menu times,
 * the FFT length rule, and the plan-cache key. Pure functions, shared by
 * supports() (any thread), the device worker and the CPU unit tests. */
#ifndef CV_CUDA_CONV_SELECT_H
#define CV_CUDA_CONV_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../ops.h"
#include "../types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Geometry as 3-D: conv1d/2d have leading spatial sizes of 1 (k 1, stride
 * 1, no padding). lo/hi are the resolved padding; out follows PyTorch. */
typedef struct cv_conv_geom_s {
  cv_dtype_t dt;                   /* F32, F64, F16 or BF16 for x, w, b and y */
  int nsp;                         /* 1, 2 or 3: spatial dims the job has */
  int64_t n, c, cout, groups;
  int64_t in[3], k[3], out[3], stride[3], dil[3], lo[3], hi[3];
  cv_padmode_t padmode;
  int flip;                        /* true convolution: taps reversed on every spatial axis */
  int channels_last;               /* x and y are (N, *spatial, C) */
  cv_conv_algo_t algo;             /* as the job asked: auto or one forced candidate */
  int tf32;                        /* precision "tf32": TF32 tensor cores allowed for f32 */
  int has_bias;
} cv_conv_geom_t;

/* From resolved params (cv_op_infer ran) and the named inputs x, w and
 * optional b; *x, *w, *b (any may be NULL) get the inputs. Pure. 0, or
 * -CV_EINVALID_ARGUMENT when the params are unresolved or the inputs do
 * not fit them. */
int cv_conv_geom(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_conv_geom_t *g, const cv_io_t **x,
                 const cv_io_t **w, const cv_io_t **b);

/* What a device has: libraries built in and set up, and its memory. */
typedef struct cv_conv_caps_s {
  bool cublas, cufft, cudnn;
  uint64_t mem_bytes;              /* device memory; bounds the FFT buffers */
} cv_conv_caps_t;

#define CV_CONV_FFT_MIN_K 7        /* auto menu: FFT when every used axis has k >= this */
#define CV_CONV_DEPTHTAP_MAX_KD 7  /* depth-tap decomposition: 2 <= kd <= this */
#define CV_CONV_TINY_CHANNELS 4    /* auto menu: the direct kernel when C/groups <= this */
#define CV_CONV_FFT_MEM_DIV 4      /* FFT buffers at most 1/4 of device memory */
#define CV_CONV_MENU_MAX 5         /* candidates of one job at most */

/* The smallest 2^a·3^b·5^c·7^d >= n (cuFFT's fast sizes); 0 when n < 1 or
 * the result would pass 2^40. */
int64_t cv_conv_fft_len(int64_t n);

/* Device bytes the FFT path needs (real + complex buffers, compute dtype),
 * 0 when the sizes overflow. */
uint64_t cv_conv_fft_bytes(const cv_conv_geom_t *g);

/* Whether candidate a (not AUTO) can run g on a device with caps: what a
 * forced `algo` needs. Pure and cheap. */
bool cv_conv_algo_applies(const cv_conv_geom_t *g, cv_conv_algo_t a, const cv_conv_caps_t *caps);

/* The auto menu: candidates worth timing for g, fastest-guess first (the
 * first one is used when timing is impossible). Always >= 1 (direct runs
 * everything). Returns the count written to out[max]. */
int cv_conv_menu(const cv_conv_geom_t *g, const cv_conv_caps_t *caps, cv_conv_algo_t *out, int max);

/* The plan-cache key of g on `device` (the GPU name; characters outside
 * [A-Za-z0-9._-] become '_'): every parameter that changes which algorithm
 * wins. No tabs, newlines or spaces. 0, or -CV_EINVALID_ARGUMENT when cap
 * is too small. */
int cv_conv_plan_key(const cv_conv_geom_t *g, const char *device, char *buf, size_t cap);

/* Device name as a file-name part: [A-Za-z0-9._-], others '_', at most
 * cap-1 characters. */
void cv_conv_sanitize_name(const char *name, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
