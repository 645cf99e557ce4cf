/* conv_cudnn.c — cuDNN conv and the depth-tap decomposition through the
 * cuDNN 9 graph (backend) API (conv_cudnn.h). An execution plan is built
 * per call (heuristics mode A, first config that finalises); the packing
 * kernels of conv.cu move data to and from NDHWC. Device worker only. */
#include "conv_cudnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CONVOY_HAVE_CUDNN
#include <cudnn.h>

#define CV_CUDNN_MAX_CFGS 16   /* heuristic results tried at most */

/* Needs `int rc` and `fail:`. NOT_SUPPORTED → -CV_EUNSUPPORTED_OP (the menu moves on). */
#define DNN(expr)                                                                                     \
  do {                                                                                                \
    cudnnStatus_t st_ = (expr);                                                                       \
    if (st_ != CUDNN_STATUS_SUCCESS) {                                                                \
      rc = dnn_err(st_, #expr, __LINE__);                                                             \
      goto fail;                                                                                      \
    }                                                                                                 \
  } while (0)

static int dnn_err(cudnnStatus_t st, const char *what, int line) {
  if (getenv("CONVOY_CONV_VERBOSE"))
    fprintf(stderr, "convoy cuda: conv_cudnn.c:%d: %s: %s\n", line, what, cudnnGetErrorString(st));
  if (st == CUDNN_STATUS_NOT_SUPPORTED || st == CUDNN_STATUS_BAD_PARAM) return -CV_EUNSUPPORTED_OP;
  return -CV_EINTERNAL;
}

typedef struct tdesc_s {
  int64_t dims[5], strides[5];
} tdesc_t;

/* Channels-last strides for dims (N, C, spatial…) of rank nd. */
static void tdesc_cl(tdesc_t *t, int nd, const int64_t *dims) {
  memcpy(t->dims, dims, sizeof(int64_t) * (size_t)nd);
  int64_t s = dims[1];
  for (int i = nd - 1; i >= 2; i--) {
    t->strides[i] = s;
    s *= dims[i];
  }
  t->strides[1] = 1;
  t->strides[0] = s;
}

typedef struct conv_spec_s {
  int nsp;                         /* 2 or 3 */
  cudnnDataType_t dt;
  bool no_tensor_core;             /* f32 without "tf32" */
  tdesc_t x, w, y;
  int64_t stride[3], dil[3], pre[3], post[3];
  float beta;
  int64_t align;
} conv_spec_t;

static int make_tensor(cudnnBackendDescriptor_t *d, const conv_spec_t *cs, const tdesc_t *t, int64_t uid) {
  int rc = 0, nd = cs->nsp + 2;
  DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, d));
  DNN(cudnnBackendSetAttribute(*d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &cs->dt));
  DNN(cudnnBackendSetAttribute(*d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, nd, t->dims));
  DNN(cudnnBackendSetAttribute(*d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, nd, t->strides));
  DNN(cudnnBackendSetAttribute(*d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
  DNN(cudnnBackendSetAttribute(*d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &cs->align));
  DNN(cudnnBackendFinalize(*d));
fail:
  return rc;
}

static bool cfg_allowed(cudnnBackendDescriptor_t cfg, const conv_spec_t *cs) {
  if (!cs->no_tensor_core) return true;
  int rc = 0;
  bool ok = false;
  cudnnBackendDescriptor_t eng = NULL;
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t n = 0, got = 0;
  DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng));
  DNN(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &got, &eng));
  DNN(cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n, notes));
  ok = true;
  for (int64_t i = 0; i < n; i++)   /* f32 on tensor cores is TF32: only when the job asked */
    if (notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS)
      ok = false;
fail:
  (void)rc;
  if (eng) cudnnBackendDestroyDescriptor(eng);
  return ok;
}

/* The handle attributes are deprecated in cuDNN 9.19 (device properties
 * replace them) but required by the cuDNN 9 releases before it. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
static const cudnnBackendAttributeName_t ATTR_GRAPH_HANDLE = CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
static const cudnnBackendAttributeName_t ATTR_PLAN_HANDLE = CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* Builds an execution plan for cs; *ws_bytes its workspace. */
static int build_plan(cudnnHandle_t h, const conv_spec_t *cs, cudnnBackendDescriptor_t *plan, int64_t *ws_bytes) {
  int rc = 0;
  cudnnBackendDescriptor_t x = NULL, w = NULL, y = NULL, conv = NULL, op = NULL, graph = NULL, heur = NULL;
  cudnnBackendDescriptor_t cfgs[CV_CUDNN_MAX_CFGS] = {0};
  int64_t n_cfg = 0;
  *plan = NULL;
  CV_TRY(make_tensor(&x, cs, &cs->x, 'x'));
  CV_TRY(make_tensor(&w, cs, &cs->w, 'w'));
  CV_TRY(make_tensor(&y, cs, &cs->y, 'y'));
  {
    const int64_t nsp = cs->nsp;
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &conv));
    DNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &nsp));
    DNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp));
    DNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
    DNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, nsp, cs->stride));
    DNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, nsp, cs->dil));
    DNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, nsp, cs->pre));
    DNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, nsp, cs->post));
    DNN(cudnnBackendFinalize(conv));
  }
  {
    const float alpha = 1.0f;
    DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, &op));
    DNN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x));
    DNN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w));
    DNN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y));
    DNN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                 1, &conv));
    DNN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha));
    DNN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &cs->beta));
    DNN(cudnnBackendFinalize(op));
  }
  DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph));
  DNN(cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op));
  DNN(cudnnBackendSetAttribute(graph, ATTR_GRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h));
  DNN(cudnnBackendFinalize(graph));
  {
    const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur));
    DNN(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph));
    DNN(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode));
    DNN(cudnnBackendFinalize(heur));
  }
  for (int i = 0; i < CV_CUDNN_MAX_CFGS; i++)
    DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[i]));
  DNN(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, CV_CUDNN_MAX_CFGS,
                               &n_cfg, cfgs));
  rc = -CV_EUNSUPPORTED_OP;   /* until one config finalises */
  for (int64_t i = 0; i < n_cfg && i < CV_CUDNN_MAX_CFGS && !*plan; i++) {
    if (!cfg_allowed(cfgs[i], cs)) continue;
    cudnnBackendDescriptor_t p = NULL;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &p) != CUDNN_STATUS_SUCCESS) continue;
    int64_t got = 0;
    if (cudnnBackendSetAttribute(p, ATTR_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h) == CUDNN_STATUS_SUCCESS &&
        cudnnBackendSetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                 &cfgs[i]) == CUDNN_STATUS_SUCCESS &&
        cudnnBackendFinalize(p) == CUDNN_STATUS_SUCCESS &&
        cudnnBackendGetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &got, ws_bytes) ==
            CUDNN_STATUS_SUCCESS) {
      *plan = p;
      rc = 0;
    } else {
      cudnnBackendDestroyDescriptor(p);
    }
  }
fail:
  for (int i = 0; i < CV_CUDNN_MAX_CFGS; i++)
    if (cfgs[i]) cudnnBackendDestroyDescriptor(cfgs[i]);
  cudnnBackendDescriptor_t all[] = {heur, graph, op, conv, y, w, x};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i]) cudnnBackendDestroyDescriptor(all[i]);
  return rc;
}

static int execute(cudnnHandle_t h, cudnnBackendDescriptor_t plan, const void *x, const void *w, void *y, void *ws) {
  int rc = 0;
  cudnnBackendDescriptor_t vp = NULL;
  void *ptrs[3] = {(void *)x, (void *)w, y};
  const int64_t uids[3] = {'x', 'w', 'y'};
  DNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp));
  DNN(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids));
  DNN(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs));
  DNN(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
  DNN(cudnnBackendFinalize(vp));
  DNN(cudnnBackendExecute(h, plan, vp));
fail:
  if (vp) cudnnBackendDestroyDescriptor(vp);
  return rc;
}

/* Largest power of two (<= 16) dividing every address in p[n]. */
static int64_t align_of(const void *const *p, int n) {
  uintptr_t bits = 16;
  for (int i = 0; i < n; i++) bits |= (uintptr_t)p[i];
  return (int64_t)(bits & (~bits + 1));
}

static bool dt_of(cv_dtype_t t, cudnnDataType_t *out) {
  switch (t) {
    case CV_DTYPE_F32: *out = CUDNN_DATA_FLOAT; return true;
    case CV_DTYPE_F16: *out = CUDNN_DATA_HALF; return true;
    case CV_DTYPE_BF16: *out = CUDNN_DATA_BFLOAT16; return true;
    default: break;
  }
  return false;
}

/* Packs x into NDHWC (padded grid of L when pad, else in); returns its spatial dims in S. */
static int pack_input(const cv_conv_geom_t *g, const void *x, bool pad, cv_cuda_ws_t *ws, void **out, int64_t *S) {
  int rc = 0;
  for (int a = 0; a < 3; a++) S[a] = pad ? g->in[a] + g->lo[a] + g->hi[a] : g->in[a];
  cv_cuda_pack_t pk;
  cv_cuda_pack_of(&pk, g, pad ? g->lo : NULL, S, NULL, 1);
  size_t bytes = (size_t)(g->n * g->c * S[0] * S[1] * S[2]) * cv_dtype_size(g->dt);
  CV_TRY(cv__cuda_ws_alloc(ws, bytes, out));
  CV_TRY(cv_cuda_conv_pack_x(&pk, g->dt, x, g->dt, *out, ws->stream));
fail:
  return rc;
}


int cv_cuda_conv_cudnn(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  const cv_conv_geom_t *g = &job->g;
  cudnnHandle_t h = (cudnnHandle_t)job->cudnn;
  cudnnBackendDescriptor_t plan = NULL;
  conv_spec_t cs;
  int rc = 0;
  if (!h || !dt_of(g->dt, &cs.dt)) return -CV_EUNSUPPORTED_OP;
  const size_t es = cv_dtype_size(g->dt);
  const int64_t cg = g->c / g->groups;
  const void *x = job->x;
  void *w = NULL, *y = job->y, *wsp = NULL;
  int64_t S[3] = {g->in[0], g->in[1], g->in[2]}, wsb = 0;
  bool pad = g->padmode != CV_PADMODE_ZEROS;
  if (pad || !g->channels_last) {
    void *xp = NULL;
    CV_TRY(pack_input(g, job->x, pad, ws, &xp, S));
    x = xp;
  }
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)(g->cout * cg * g->k[0] * g->k[1] * g->k[2]) * es, &w));
  CV_TRY(cv_cuda_conv_pack_w(g, CV_WPACK_KRSC, NULL, job->w, g->dt, w, ws->stream));
  if (!g->channels_last) CV_TRY(cv__cuda_ws_alloc(ws, (size_t)(g->n * g->cout * g->out[0] * g->out[1] * g->out[2]) * es, &y));
  cs.nsp = 3;
  cs.no_tensor_core = g->dt == CV_DTYPE_F32 && !g->tf32;
  {
    const int64_t xd[5] = {g->n, g->c, S[0], S[1], S[2]}, wd[5] = {g->cout, cg, g->k[0], g->k[1], g->k[2]};
    const int64_t yd[5] = {g->n, g->cout, g->out[0], g->out[1], g->out[2]};
    tdesc_cl(&cs.x, 5, xd);
    tdesc_cl(&cs.w, 5, wd);
    tdesc_cl(&cs.y, 5, yd);
  }
  for (int a = 0; a < 3; a++) {
    cs.stride[a] = g->stride[a];
    cs.dil[a] = g->dil[a];
    cs.pre[a] = pad ? 0 : g->lo[a];
    cs.post[a] = pad ? 0 : g->hi[a];
  }
  cs.beta = 0.0f;
  {
    const void *ptrs[3] = {x, w, y};
    cs.align = align_of(ptrs, 3);
  }
  CV_TRY(build_plan(h, &cs, &plan, &wsb));
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)wsb, &wsp));
  DNN(cudnnSetStream(h, ws->stream));
  CV_TRY(execute(h, plan, x, w, y, wsp));
  if (job->b || !g->channels_last) {   /* bias and/or NDHWC → NCDHW, into the job's y */
    cv_cuda_unpack_t u = {{g->out[0], g->out[1], g->out[2]}, {1, 1, 1}, 1, 1.0};
    CV_TRY(cv_cuda_conv_unpack_y(g, &u, g->dt, y, job->b, job->y, ws->stream));
  }
fail:
  if (plan) cudnnBackendDestroyDescriptor(plan);
  return rc;
}

int cv_cuda_conv_depthtap(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  const cv_conv_geom_t *g = &job->g;
  cudnnHandle_t h = (cudnnHandle_t)job->cudnn;
  cudnnBackendDescriptor_t plan[2] = {NULL, NULL};
  conv_spec_t cs;
  int rc = 0;
  if (!h || g->nsp != 3 || !dt_of(g->dt, &cs.dt)) return -CV_EUNSUPPORTED_OP;
  const size_t es = cv_dtype_size(g->dt);
  const int64_t cg = g->c / g->groups, kd = g->k[0], OD = g->out[0];
  void *xp = NULL, *wt = NULL, *y = job->y, *wsp = NULL;
  int64_t S[3], wsb[2] = {0, 0};
  CV_TRY(pack_input(g, job->x, true, ws, &xp, S));   /* every padding mode materialised; cuDNN pads nothing */
  const int64_t wtap = g->cout * cg * g->k[1] * g->k[2];   /* elements of one depth tap's 2-D filter */
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)(kd * wtap) * es, &wt));
  CV_TRY(cv_cuda_conv_pack_w(g, CV_WPACK_TAP_KRSC, NULL, job->w, g->dt, wt, ws->stream));
  if (!g->channels_last || job->b)
    CV_TRY(cv__cuda_ws_alloc(ws, (size_t)(g->n * g->cout * OD * g->out[1] * g->out[2]) * es, &y));
  cs.nsp = 2;
  cs.no_tensor_core = g->dt == CV_DTYPE_F32 && !g->tf32;
  {
    /* one image per output depth: rows od·stride + t·dil of the padded volume */
    const int64_t plane = S[1] * S[2] * g->c;
    cs.x.dims[0] = OD, cs.x.dims[1] = g->c, cs.x.dims[2] = S[1], cs.x.dims[3] = S[2];
    cs.x.strides[0] = g->stride[0] * plane, cs.x.strides[1] = 1, cs.x.strides[2] = S[2] * g->c, cs.x.strides[3] = g->c;
    const int64_t wd[4] = {g->cout, cg, g->k[1], g->k[2]}, yd[4] = {OD, g->cout, g->out[1], g->out[2]};
    tdesc_cl(&cs.w, 4, wd);
    tdesc_cl(&cs.y, 4, yd);
  }
  for (int a = 0; a < 2; a++) {
    cs.stride[a] = g->stride[a + 1];
    cs.dil[a] = g->dil[a + 1];
    cs.pre[a] = cs.post[a] = 0;
  }
  {
    const void *ptrs[4] = {xp, wt, y, (const char *)xp + (size_t)(g->dil[0] * S[1] * S[2] * g->c) * es};
    const void *more[3] = {(const char *)wt + (size_t)wtap * es,
                           (const char *)xp + (size_t)(S[0] * S[1] * S[2] * g->c) * es,
                           (const char *)y + (size_t)(OD * g->out[1] * g->out[2] * g->cout) * es};
    int64_t a1 = align_of(ptrs, 4), a2 = align_of(more, 3);
    cs.align = a1 < a2 ? a1 : a2;
  }
  for (int b = 0; b < 2; b++) {   /* beta 0 for the first tap, 1 to accumulate the others */
    cs.beta = (float)b;
    CV_TRY(build_plan(h, &cs, &plan[b], &wsb[b]));
  }
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)(wsb[0] > wsb[1] ? wsb[0] : wsb[1]), &wsp));
  DNN(cudnnSetStream(h, ws->stream));
  for (int64_t n = 0; n < g->n; n++)
    for (int64_t t = 0; t < kd; t++) {
      const char *xt = (const char *)xp + (size_t)((n * S[0] + t * g->dil[0]) * S[1] * S[2] * g->c) * es;
      const char *wtt = (const char *)wt + (size_t)(t * wtap) * es;
      char *yn = (char *)y + (size_t)(n * OD * g->out[1] * g->out[2] * g->cout) * es;
      CV_TRY(execute(h, plan[t > 0], xt, wtt, yn, wsp));
    }
  if (y != job->y) {
    cv_cuda_unpack_t u = {{g->out[0], g->out[1], g->out[2]}, {1, 1, 1}, 1, 1.0};
    CV_TRY(cv_cuda_conv_unpack_y(g, &u, g->dt, y, job->b, job->y, ws->stream));
  }
fail:
  for (int b = 0; b < 2; b++)
    if (plan[b]) cudnnBackendDestroyDescriptor(plan[b]);
  return rc;
}

#else

int cv_cuda_conv_cudnn(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  (void)job;
  (void)ws;
  return -CV_EUNSUPPORTED_OP;
}

int cv_cuda_conv_depthtap(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  (void)job;
  (void)ws;
  return -CV_EUNSUPPORTED_OP;
}

#endif
