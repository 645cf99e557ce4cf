/* conv_dnnl.c — conv forward through oneDNN 2.6 (C API): f32, or bf16 with
 * f32 accumulation. Owns the process-wide CPU engine, created once under
 * pthread_once (read-only after that, like a const table; oneDNN engines are
 * thread-safe). Primitives are built per call and hit oneDNN's own
 * thread-safe primitive cache. Called from cv_cpu_conv's thread. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "conv_internal.h"

/* Slabs (see run_slabs) from CV_DNNL_SLAB_MIN_BYTES of x + y on, each
 * slab's input + output about CV_DNNL_SLAB_BYTES; at most CV_DNNL_SLAB_KINDS
 * distinct slab geometries (first, middle, last, short last). */
#define CV_DNNL_SLAB_MIN_BYTES ((size_t)64 << 20)
#define CV_DNNL_SLAB_BYTES ((size_t)8 << 20)
#define CV_DNNL_SLAB_KINDS 4
#define CV_DNNL_NOSLAB 2   /* run_slabs: not applicable, nothing done */

/* ---- the engine, created once ---- */

typedef struct {
  pthread_once_t once;
  dnnl_status_t st;
  dnnl_engine_t engine;
} dnnl_global_t;

static dnnl_global_t g_dnnl = {PTHREAD_ONCE_INIT, dnnl_success, NULL};

static void engine_init(void) { g_dnnl.st = dnnl_engine_create(&g_dnnl.engine, dnnl_cpu, 0); }

static int dnnl_fail(cv_error_t *err, const char *what, dnnl_status_t st) {
  if (st == dnnl_out_of_memory)
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "oneDNN: out of memory in %s", what);
  return cv_error_set(err, CV_EINTERNAL, NULL, "oneDNN: %s failed (status %d)", what, (int)st);
}

/* ---- descriptors ---- */

/* Activation layouts: the two plain ones, oneDNN's 16-channel blocks
 * (nC…16c), or "any" (oneDNN picks). */
typedef enum { FMT_NCDHW, FMT_NDHWC, FMT_BLK16, FMT_ANY } act_fmt_t;

#define CV_DNNL_BLOCK 16   /* channels per block in FMT_BLK16 */

static void act_md(dnnl_memory_desc_t *md, const cv_conv_geom_t *g, int64_t ch, const int64_t *sp,
                   dnnl_data_type_t dt, act_fmt_t fmt) {
  static const dnnl_format_tag_t tags[3][3] = {{dnnl_ncw, dnnl_nchw, dnnl_ncdhw},
                                               {dnnl_nwc, dnnl_nhwc, dnnl_ndhwc},
                                               {dnnl_nCw16c, dnnl_nChw16c, dnnl_nCdhw16c}};
  int nsp = g->nsp;
  dnnl_dims_t d;
  d[0] = g->n;
  d[1] = ch;
  for (int i = 0; i < nsp; i++) d[2 + i] = sp[3 - nsp + i];
  dnnl_memory_desc_init_by_tag(md, nsp + 2, d, dt, fmt == FMT_ANY ? dnnl_format_tag_any : tags[fmt][nsp - 1]);
}

/* Channels per block when `want` is x or y (NCDHW, ch channels) moved by own
 * transposes: ch for channels-last, CV_DNNL_BLOCK for nC…16c; 0 otherwise. */
static int64_t own_block(const dnnl_memory_desc_t *want, const cv_conv_geom_t *g, int64_t ch, const int64_t *sp,
                         dnnl_data_type_t dt) {
  dnnl_memory_desc_t md;
  act_md(&md, g, ch, sp, dt, FMT_NDHWC);
  if (dnnl_memory_desc_equal(want, &md)) return ch;
  if (ch % CV_DNNL_BLOCK) return 0;
  act_md(&md, g, ch, sp, dt, FMT_BLK16);
  return dnnl_memory_desc_equal(want, &md) ? CV_DNNL_BLOCK : 0;
}

/* NCDHW (N, C, S) data <-> blocks of bs channels (N, C/bs, S, bs): the
 * transposes for `count` points from point p0 of x (sx points per channel)
 * into a buffer of `count` points, and back. */
static cv_conv_xpose_t to_blocks(int64_t n, int64_t ch, int64_t bs, int64_t sx, int64_t count) {
  return (cv_conv_xpose_t){n * (ch / bs), bs, count, bs * sx, sx, count * bs, bs};
}
static cv_conv_xpose_t from_blocks(int64_t n, int64_t ch, int64_t bs, int64_t sy, int64_t count) {
  return (cv_conv_xpose_t){n * (ch / bs), count, bs, count * bs, bs, bs * sy, sy};
}

static void wei_md(dnnl_memory_desc_t *md, const cv_conv_geom_t *g, dnnl_data_type_t dt, int any) {
  int nsp = g->nsp, gr = g->groups > 1;
  dnnl_dims_t d;
  int nd = 0;
  if (gr) d[nd++] = g->groups;
  d[nd++] = g->cout / g->groups;
  d[nd++] = g->c / g->groups;
  for (int i = 0; i < nsp; i++) d[nd++] = g->k[3 - nsp + i];
  static const dnnl_format_tag_t plain[3] = {dnnl_oiw, dnnl_oihw, dnnl_oidhw};
  static const dnnl_format_tag_t gplain[3] = {dnnl_goiw, dnnl_goihw, dnnl_goidhw};
  dnnl_memory_desc_init_by_tag(md, nd, d, dt, any ? dnnl_format_tag_any : gr ? gplain[nsp - 1] : plain[nsp - 1]);
}

/* Creates the forward pd for geometry g: src/dst in fmt, weights "any". 0, CV__CONV_NOIMPL (none, or only oneDNN's reference
 * implementation when !allow_ref) or -CV_E…. */
static int make_pd(dnnl_primitive_desc_t *pd, const cv_conv_geom_t *g, dnnl_data_type_t ddt, act_fmt_t fmt,
                   int has_bias, int allow_ref, cv_error_t *err) {
  *pd = NULL;
  int nsp = g->nsp;
  dnnl_memory_desc_t src, wei, dst, bias;
  act_md(&src, g, g->c, g->in, ddt, fmt);
  act_md(&dst, g, g->cout, g->out, ddt, fmt);
  wei_md(&wei, g, ddt, 1);
  dnnl_dims_t bd = {g->cout};
  if (has_bias) dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x);
  dnnl_dims_t strides, dil, pl, pr;
  for (int i = 0; i < nsp; i++) {
    int a = 3 - nsp + i;
    strides[i] = g->stride[a];
    dil[i] = g->dil[a] - 1;
    pl[i] = g->lo[a];
    pr[i] = g->hi[a];
  }
  dnnl_convolution_desc_t cd;
  dnnl_status_t st = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                                &src, &wei, has_bias ? &bias : NULL, &dst,
                                                                strides, dil, pl, pr);
  if (st != dnnl_success) return CV__CONV_NOIMPL;
  dnnl_primitive_attr_t attr;
  if ((st = dnnl_primitive_attr_create(&attr)) != dnnl_success) return dnnl_fail(err, "attributes", st);
  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  dnnl_primitive_attr_set_fpmath_mode(attr, dnnl_fpmath_mode_strict);
  st = dnnl_primitive_desc_create(pd, &cd, attr, g_dnnl.engine, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (st == dnnl_unimplemented) return CV__CONV_NOIMPL;
  if (st != dnnl_success) return dnnl_fail(err, "convolution setup", st);
  const char *impl = NULL;
  dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl);
  if (!impl || (!allow_ref && strncmp(impl, "ref", 3) == 0)) {
    dnnl_primitive_desc_destroy(*pd);
    *pd = NULL;
    return CV__CONV_NOIMPL;
  }
  return 0;
}

static const dnnl_memory_desc_t *pd_md(dnnl_primitive_desc_t pd, dnnl_query_t q) {
  return dnnl_primitive_desc_query_md(pd, q, 0);
}

/* ---- execution on raw buffers ---- */

/* Copies from_data (layout from_md) into to_data (layout to_md). */
static int reorder(dnnl_stream_t stream, const dnnl_memory_desc_t *from_md, const void *from_data,
                   const dnnl_memory_desc_t *to_md, void *to_data, cv_error_t *err) {
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t r = NULL;
  dnnl_memory_t m[2] = {NULL, NULL};
  dnnl_status_t st = dnnl_reorder_primitive_desc_create(&rpd, from_md, g_dnnl.engine, to_md, g_dnnl.engine, NULL);
  if (st == dnnl_success) st = dnnl_primitive_create(&r, rpd);
  if (st == dnnl_success) st = dnnl_memory_create(&m[0], from_md, g_dnnl.engine, (void *)from_data);
  if (st == dnnl_success) st = dnnl_memory_create(&m[1], to_md, g_dnnl.engine, to_data);
  if (st == dnnl_success) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, m[0]}, {DNNL_ARG_TO, m[1]}};
    st = dnnl_primitive_execute(r, stream, 2, args);
  }
  if (st == dnnl_success) st = dnnl_stream_wait(stream);
  for (int i = 0; i < 2; i++)
    if (m[i]) dnnl_memory_destroy(m[i]);
  if (r) dnnl_primitive_destroy(r);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  return st == dnnl_success ? 0 : dnnl_fail(err, "reorder", st);
}

/* Runs the conv pd once (memory objects made and dropped here). */
static int exec_pd(dnnl_primitive_desc_t pd, dnnl_stream_t stream, const void *src, const void *wei,
                   const float *b, void *dst, void *scratch, cv_error_t *err) {
  static const dnnl_query_t q[4] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md,
                                    dnnl_query_scratchpad_md};
  static const int arg[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
  void *data[4] = {(void *)src, (void *)wei, dst, scratch};
  dnnl_memory_t m[5];
  dnnl_exec_arg_t args[5];
  int na = 0;
  dnnl_primitive_t prim = NULL;
  dnnl_status_t st = dnnl_success;
  for (int i = 0; i < 4 && st == dnnl_success; i++) {
    const dnnl_memory_desc_t *md = pd_md(pd, q[i]);
    if (!md || dnnl_memory_desc_get_size(md) == 0) continue;
    if ((st = dnnl_memory_create(&m[na], md, g_dnnl.engine, data[i])) == dnnl_success)
      args[na] = (dnnl_exec_arg_t){arg[i], m[na]}, na++;
  }
  if (st == dnnl_success && b) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    if ((st = dnnl_memory_create(&m[na], md, g_dnnl.engine, (void *)b)) == dnnl_success)
      args[na] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m[na]}, na++;
  }
  if (st == dnnl_success) st = dnnl_primitive_create(&prim, pd);
  if (st == dnnl_success) st = dnnl_primitive_execute(prim, stream, na, args);
  if (st == dnnl_success) st = dnnl_stream_wait(stream);
  if (prim) dnnl_primitive_destroy(prim);
  for (int i = 0; i < na; i++) dnnl_memory_destroy(m[i]);
  return st == dnnl_success ? 0 : dnnl_fail(err, "convolution", st);
}

/* Weights into the layout pd wants (or as given). *out: the buffer to use. */
static int prep_weights(dnnl_primitive_desc_t pd, dnnl_stream_t stream, const cv_conv_geom_t *g,
                        dnnl_data_type_t ddt, const void *w, const void **out, cv_conv_ws_t *ws, cv_error_t *err) {
  dnnl_memory_desc_t user;
  wei_md(&user, g, ddt, 0);
  const dnnl_memory_desc_t *want = pd_md(pd, dnnl_query_weights_md);
  *out = w;
  if (dnnl_memory_desc_equal(&user, want)) return 0;
  void *t = cv__conv_ws_alloc(ws, dnnl_memory_desc_get_size(want));
  if (!t) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "conv: no memory for reordered weights");
  *out = t;
  return reorder(stream, &user, w, want, t, err);
}

static void *scratch_alloc(dnnl_primitive_desc_t pd, cv_conv_ws_t *ws, int *oom) {
  const dnnl_memory_desc_t *md = pd_md(pd, dnnl_query_scratchpad_md);
  size_t n = md ? dnnl_memory_desc_get_size(md) : 0;
  void *p = n ? cv__conv_ws_alloc(ws, n) : NULL;
  *oom = n && !p;
  return p;
}

/* ---- slabs: NCDHW data through blocked kernels, a slab at a time ----
 * When the primitive wants channels-last or nC…16c for NCDHW data,
 * whole-tensor transposes would need workspace as large as x and y (GBs
 * for big volumes). Instead the output is cut along its outermost spatial
 * axis into slabs; each slab's input (with its halo) is transposed into a
 * bounded buffer, convolved, and transposed back into y. Same speed as
 * whole-tensor moves where measured (16 MiB); workspace ~2 slabs. */

typedef struct {
  int64_t din, dout, lo, hi;          /* the slab's input/output planes and padding */
  dnnl_primitive_desc_t pd;
} slab_kind_t;

/* Slab geometry for output planes [o0, o1) along axis a: input planes from c0. */
static void slab_geom(const cv_conv_geom_t *g, int a, int64_t o0, int64_t o1, slab_kind_t *k, int64_t *c0) {
  const int64_t i0 = o0 * g->stride[a] - g->lo[a];
  const int64_t i1 = (o1 - 1) * g->stride[a] + (g->k[a] - 1) * g->dil[a] - g->lo[a] + 1;
  *c0 = i0 > 0 ? i0 : 0;
  k->din = (i1 < g->in[a] ? i1 : g->in[a]) - *c0;
  k->dout = o1 - o0;
  k->lo = i0 < 0 ? -i0 : 0;
  k->hi = i1 > g->in[a] ? i1 - g->in[a] : 0;
}

static int find_kind(const slab_kind_t *kind, int n, const slab_kind_t *k) {
  for (int i = 0; i < n; i++)
    if (kind[i].din == k->din && kind[i].dout == k->dout && kind[i].lo == k->lo && kind[i].hi == k->hi) return i;
  return -1;
}

static int run_slabs(dnnl_primitive_desc_t full, act_fmt_t fmt, int64_t bs, int64_t bd, const cv_conv_geom_t *g,
                     const void *x, const void *w, const float *b, void *y, dnnl_stream_t stream, int threads,
                     cv_conv_ws_t *ws, cv_conv_info_t *info, cv_error_t *err) {
  const int a = 3 - g->nsp;   /* outermost user spatial axis */
  const int64_t sin = g->in[0] * g->in[1] * g->in[2], sout = g->out[0] * g->out[1] * g->out[2];
  const int64_t pin = sin / g->in[a], pout = sout / g->out[a];
  const size_t es = 4, per_plane = es * (size_t)g->n * (size_t)(g->cout * pout + g->c * pin * g->stride[a]);
  int64_t step = (int64_t)(CV_DNNL_SLAB_BYTES / (per_plane ? per_plane : 1));
  if (step < 1) step = 1;
  if (step >= g->out[a]) return CV_DNNL_NOSLAB;

  slab_kind_t kind[CV_DNNL_SLAB_KINDS], k;
  int n_kind = 0, rc = 0;
  int64_t c0;
  for (int64_t o0 = 0; o0 < g->out[a]; o0 += step) {   /* the distinct slab geometries */
    slab_geom(g, a, o0, o0 + step < g->out[a] ? o0 + step : g->out[a], &k, &c0);
    if (k.din < 1) return CV_DNNL_NOSLAB;
    if (find_kind(kind, n_kind, &k) >= 0) continue;
    if (n_kind == CV_DNNL_SLAB_KINDS) return CV_DNNL_NOSLAB;
    k.pd = NULL;
    kind[n_kind++] = k;
  }
  const dnnl_memory_desc_t *want_w = pd_md(full, dnnl_query_weights_md);
  size_t src_max = 0, dst_max = 0, scr_max = 0;
  for (int i = 0; i < n_kind && rc == 0; i++) {
    cv_conv_geom_t sg = *g;
    sg.in[a] = kind[i].din, sg.out[a] = kind[i].dout, sg.lo[a] = kind[i].lo, sg.hi[a] = kind[i].hi;
    rc = make_pd(&kind[i].pd, &sg, dnnl_f32, fmt, b != NULL, 0, err);
    if (rc == 0 && !dnnl_memory_desc_equal(pd_md(kind[i].pd, dnnl_query_weights_md), want_w)) rc = CV_DNNL_NOSLAB;
    if (rc) break;
    const dnnl_memory_desc_t *scr = pd_md(kind[i].pd, dnnl_query_scratchpad_md);
    size_t sz = dnnl_memory_desc_get_size(pd_md(kind[i].pd, dnnl_query_src_md)),
           dz = dnnl_memory_desc_get_size(pd_md(kind[i].pd, dnnl_query_dst_md)),
           cz = scr ? dnnl_memory_desc_get_size(scr) : 0;
    src_max = sz > src_max ? sz : src_max, dst_max = dz > dst_max ? dz : dst_max, scr_max = cz > scr_max ? cz : scr_max;
  }
  if (rc == CV__CONV_NOIMPL) rc = CV_DNNL_NOSLAB;
  const void *wk = NULL;
  void *src = NULL, *dst = NULL, *scr = NULL;
  if (rc == 0 && (rc = prep_weights(full, stream, g, dnnl_f32, w, &wk, ws, err)) == 0) {
    src = cv__conv_ws_alloc(ws, src_max), dst = cv__conv_ws_alloc(ws, dst_max);
    scr = scr_max ? cv__conv_ws_alloc(ws, scr_max) : NULL;
    if (!src || !dst || (scr_max && !scr)) rc = cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "conv: no memory for slabs");
  }
  for (int64_t o0 = 0; rc == 0 && o0 < g->out[a]; o0 += step) {
    slab_geom(g, a, o0, o0 + step < g->out[a] ? o0 + step : g->out[a], &k, &c0);
    const cv_conv_xpose_t tin = to_blocks(g->n, g->c, bs, sin, k.din * pin);
    cv__conv_transpose(src, (const float *)x + c0 * pin, &tin, es, threads);
    rc = exec_pd(kind[find_kind(kind, n_kind, &k)].pd, stream, src, wk, b, dst, scr, err);
    const cv_conv_xpose_t tout = from_blocks(g->n, g->cout, bd, sout, k.dout * pout);
    if (rc == 0) cv__conv_transpose((float *)y + o0 * pout, dst, &tout, es, threads);
  }
  if (rc == 0) {
    const char *impl = NULL;
    dnnl_primitive_desc_query(kind[0].pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(info->impl, sizeof info->impl, "onednn:%s+slabs%d", impl ? impl : "?", (int)step);
  }
  for (int i = 0; i < n_kind; i++)
    if (kind[i].pd) dnnl_primitive_desc_destroy(kind[i].pd);
  return rc;
}

/* ---- entry ---- */

/* The layout to ask for. NDHWC data: its own layout, which oneDNN's nxc
 * kernels take without moves. NCDHW data: oneDNN's choice ("any": its
 * channels-last brgconv), which beat plain NCDHW (its gemm route) on every
 * shape measured (1 to 64 channels, 1 and 2 threads); for 3-D convs with
 * channel counts in 16s, nCdhw16c (jit:avx512_core) was 0-4% faster still.
 * Asking for nC…16c on 2-D shapes (64→64, depthwise) lost 7-80% overall. */
static act_fmt_t pick_fmt(const cv_conv_geom_t *g, cv_dtype_t dt, cv_layout_t layout) {
  if (layout == CV_LAYOUT_NDHWC) return FMT_NDHWC;
  if (g->nsp == 3 && dt == CV_DTYPE_F32 && g->groups == 1 && g->c % CV_DNNL_BLOCK == 0 &&
      g->cout % CV_DNNL_BLOCK == 0)
    return FMT_BLK16;
  return FMT_ANY;
}

int cv__conv_dnnl(const cv_conv_geom_t *g, cv_dtype_t dt, cv_layout_t layout, const void *x, const void *w,
                  const float *b, void *y, int allow_ref, int threads, cv_conv_ws_t *ws, cv_conv_info_t *info,
                  cv_error_t *err) {
  pthread_once(&g_dnnl.once, engine_init);
  if (g_dnnl.st != dnnl_success) return dnnl_fail(err, "engine creation", g_dnnl.st);
  const dnnl_data_type_t ddt = dt == CV_DTYPE_BF16 ? dnnl_bf16 : dnnl_f32;
  const size_t es = dt == CV_DTYPE_BF16 ? 2 : 4;
  const act_fmt_t user = layout == CV_LAYOUT_NDHWC ? FMT_NDHWC : FMT_NCDHW;
  act_fmt_t fmt = pick_fmt(g, dt, layout);
  dnnl_primitive_desc_t pd = NULL;
  dnnl_stream_t stream = NULL;
  int rc = make_pd(&pd, g, ddt, fmt, b != NULL, allow_ref, err);
  if (rc == CV__CONV_NOIMPL && fmt == FMT_BLK16) rc = make_pd(&pd, g, ddt, fmt = FMT_ANY, b != NULL, allow_ref, err);
  if (rc) return rc;
  const char *impl = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  snprintf(info->impl, sizeof info->impl, "onednn:%s", impl ? impl : "?");
  dnnl_status_t st = dnnl_stream_create(&stream, g_dnnl.engine, dnnl_stream_default_flags);
  if (st != dnnl_success) {
    rc = dnnl_fail(err, "stream", st);
    goto done;
  }

  /* the layouts it runs on: the user's, blocked (own transposes: float32), or oneDNN's (reorders) */
  dnnl_memory_desc_t src_u, dst_u;
  act_md(&src_u, g, g->c, g->in, ddt, user);
  act_md(&dst_u, g, g->cout, g->out, ddt, user);
  const dnnl_memory_desc_t *src_w = pd_md(pd, dnnl_query_src_md), *dst_w = pd_md(pd, dnnl_query_dst_md);
  /* own transposes (AVX2 tiles): 2.3× oneDNN's reorders into channels-last;
   * into nC…16c 25% slower alone, yet faster inside the 3-D conv call */
  const int own = user == FMT_NCDHW && dt == CV_DTYPE_F32;
  const int64_t bs = own ? own_block(src_w, g, g->c, g->in, ddt) : 0;
  const int64_t bd = own ? own_block(dst_w, g, g->cout, g->out, ddt) : 0;
  const int64_t sin = g->in[0] * g->in[1] * g->in[2], sout = g->out[0] * g->out[1] * g->out[2];
  const size_t xy_bytes = dnnl_memory_desc_get_size(&src_u) + dnnl_memory_desc_get_size(&dst_u);
  /* slabs ask for the layout the whole-tensor pd chose, explicitly */
  const act_fmt_t sfmt = fmt != FMT_ANY                          ? fmt
                         : bs == g->c && bd == g->cout           ? FMT_NDHWC
                         : bs == CV_DNNL_BLOCK && bd == CV_DNNL_BLOCK ? FMT_BLK16
                                                                 : FMT_ANY;
  if (bs && bd && sfmt != FMT_ANY && xy_bytes >= CV_DNNL_SLAB_MIN_BYTES) {
    rc = run_slabs(pd, sfmt, bs, bd, g, x, w, b, y, stream, threads, ws, info, err);
    if (rc != CV_DNNL_NOSLAB) goto done;
    rc = 0;
  }

  const void *wk, *xs = x;
  void *yd = y;
  if ((rc = prep_weights(pd, stream, g, ddt, w, &wk, ws, err))) goto done;
  if (!dnnl_memory_desc_equal(src_w, &src_u)) {
    void *t = cv__conv_ws_alloc(ws, dnnl_memory_desc_get_size(src_w));
    if (!t) goto oom;
    const cv_conv_xpose_t tin = to_blocks(g->n, g->c, bs ? bs : 1, sin, sin);
    if (bs)
      cv__conv_transpose(t, x, &tin, es, threads);
    else if ((rc = reorder(stream, &src_u, x, src_w, t, err)))
      goto done;
    xs = t;
  }
  if (!dnnl_memory_desc_equal(dst_w, &dst_u) && !(yd = cv__conv_ws_alloc(ws, dnnl_memory_desc_get_size(dst_w))))
    goto oom;
  int oom = 0;
  void *scr = scratch_alloc(pd, ws, &oom);
  if (oom) goto oom;
  if ((rc = exec_pd(pd, stream, xs, wk, b, yd, scr, err))) goto done;
  const cv_conv_xpose_t tout = from_blocks(g->n, g->cout, bd ? bd : 1, sout, sout);
  if (yd != y && bd)
    cv__conv_transpose(y, yd, &tout, es, threads);
  else if (yd != y)
    rc = reorder(stream, dst_w, yd, &dst_u, y, err);
  goto done;
oom:
  rc = cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "conv: no memory for oneDNN buffers");
done:
  if (stream) dnnl_stream_destroy(stream);
  dnnl_primitive_desc_destroy(pd);
  return rc;
}
