/* conv_internal.h — shared between the CPU conv files only (conv.c dispatch,
 * conv_dnnl.c oneDNN path, conv_direct.c own kernels). Geometry is always
 * 3-D here: conv1d/2d are conv3d with leading spatial axes of size 1.
 * Everything is called from the thread that runs cv_cpu_conv. */
#ifndef CV_CPU_CONV_INTERNAL_H
#define CV_CPU_CONV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../../proto/errors.h"
#include "../ops.h"

/* One conv's geometry, spatial axes as (d, h, w); the first 3 − nsp are 1. */
typedef struct cv_conv_geom_s {
  int nsp;                          /* 1..3: the rank the user asked for */
  int64_t n, c, cout, groups;       /* batch, in/out channels, groups */
  int64_t in[3], k[3], out[3];      /* input, kernel and output sizes */
  int64_t stride[3], dil[3];        /* >= 1 */
  int64_t lo[3], hi[3];             /* zero padding still to apply (implicit) */
} cv_conv_geom_t;

/* What a call did, for the CONVOY_CONV_VERBOSE line and the unit tests. */
typedef struct cv_conv_info_s {
  const char *algo;                 /* "gemm" (oneDNN), "direct", "depthtap" */
  char impl[64];                    /* oneDNN implementation name, or own kernel name */
  size_t workspace_bytes;           /* temporaries: conversions, pre-pad, reorders, scratchpad */
} cv_conv_info_t;

/* A call's temporaries, carved from a per-thread block that is kept between
 * calls (so steady-state calls take no page faults; conv.c owns it). */
typedef struct cv_conv_ws_s cv_conv_ws_t;
/* 64-byte aligned, at least `bytes`; NULL when out of memory. Lives until the
 * call ends. Adds to info->workspace_bytes. */
void *cv__conv_ws_alloc(cv_conv_ws_t *ws, size_t bytes);

/* oneDNN status: 1 = no optimised implementation for this case (only
 * oneDNN's reference one, or none): the caller takes another route. */
#define CV__CONV_NOIMPL 1

/* oneDNN convolution forward. dt is CV_DTYPE_F32 or CV_DTYPE_BF16 (x, w, y;
 * b always float32 or NULL). x/y in `layout`, w (Cout, C/g, *k) plain.
 * allow_ref: run oneDNN's reference implementation too (else NOIMPL).
 * oneDNN runs with the OpenMP thread count in effect (the caller sets it to
 * `threads`); own layout moves use `threads`. 0, CV__CONV_NOIMPL or -CV_E…. */
int cv__conv_dnnl(const cv_conv_geom_t *g, cv_dtype_t dt, cv_layout_t layout, const void *x,
                  const void *w, const float *b, void *y, int allow_ref, int threads, cv_conv_ws_t *ws,
                  cv_conv_info_t *info, cv_error_t *err);

/* Own kernels on NCDHW data (implicit zero padding lo/hi), any groups;
 * b may be NULL. OpenMP with `threads` threads. Always succeed. */
void cv__conv_direct_f64(const cv_conv_geom_t *g, const double *x, const double *w, const double *b,
                         double *y, int threads);
void cv__conv_direct_f32(const cv_conv_geom_t *g, const float *x, const float *w, const float *b,
                         float *y, int threads);
/* A batch of (rows × cols) matrices to transpose (NCDHW <-> NDHWC or
 * nC…16c blocks, whole or a slab): source (n, r, c) at src[n·s_n + r·s_r + c], destination (n, c, r)
 * at dst[n·d_n + c·d_c + r], in elements. */
typedef struct cv_conv_xpose_s {
  int64_t nb, rows, cols, s_n, s_r, d_n, d_c;
} cv_conv_xpose_t;
#define CV_CONV_XPOSE_DENSE(nb, rows, cols) {(nb), (rows), (cols), (rows) * (cols), (cols), (rows) * (cols), (rows)}
/* OpenMP with `threads` threads; float32 moves 8×8 register tiles (AVX2),
 * with streaming stores into large destinations (conv.c). */
void cv__conv_transpose(void *dst, const void *src, const cv_conv_xpose_t *x, size_t es, int threads);
/* True when the depthwise loop applies: groups == C and w.shape[1] == 1. */
int cv__conv_is_depthwise(const cv_conv_geom_t *g);

#endif
