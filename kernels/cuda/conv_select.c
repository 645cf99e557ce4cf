/* conv_select.c — the GPU conv menu's plain C rules (conv_select.h):
 * geometry from resolved params, which candidate can run what, the auto
 * menu, FFT sizes and the plan-cache key. No CUDA; pure functions called
 * from supports() (any thread) and the device worker. */
#include "conv_select.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../../proto/errors.h"

int cv_conv_geom(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_conv_geom_t *g, const cv_io_t **xo,
                 const cv_io_t **wo, const cv_io_t **bo) {
  const cv_io_t *x = NULL, *w = NULL, *b = NULL;
  for (int i = 0; i < n_in; i++) {
    if (strcmp(in[i].name, "x") == 0) x = &in[i];
    else if (strcmp(in[i].name, "w") == 0) w = &in[i];
    else if (strcmp(in[i].name, "b") == 0) b = &in[i];
    else return -CV_EINVALID_ARGUMENT;
  }
  if (!x || !w) return -CV_EINVALID_ARGUMENT;
  cv_dtype_t dt = x->a.dtype;
  if (dt != CV_DTYPE_F32 && dt != CV_DTYPE_F64 && dt != CV_DTYPE_F16 && dt != CV_DTYPE_BF16) return -CV_EINVALID_ARGUMENT;
  int nsp = w->a.ndim - 2;
  if (nsp < 1 || nsp > CV_CONV_MAX_SPATIAL || x->a.ndim != nsp + 2 || p->nsp != nsp || p->n_stride != nsp ||
      p->n_dilation != nsp || p->n_pad != nsp || p->groups < 1 || w->a.dtype != dt || (b && b->a.dtype != dt) ||
      (unsigned)p->padding_mode >= CV_PADMODE_COUNT || (unsigned)p->algo >= CV_CONV_ALGO_COUNT)
    return -CV_EINVALID_ARGUMENT;
  memset(g, 0, sizeof *g);
  bool cl = p->layout == CV_LAYOUT_NDHWC;
  g->dt = dt;
  g->nsp = nsp;
  g->n = x->a.shape[0];
  g->c = cl ? x->a.shape[nsp + 1] : x->a.shape[1];
  g->cout = w->a.shape[0];
  g->groups = p->groups;
  if (g->c % g->groups || g->cout % g->groups || w->a.shape[1] * g->groups != g->c ||
      (b && (b->a.ndim != 1 || b->a.shape[0] != g->cout)))
    return -CV_EINVALID_ARGUMENT;
  for (int a = 0; a < 3; a++) {
    int s = a - (3 - nsp);   /* spatial index, < 0 for the leading size-1 axes */
    g->in[a] = s < 0 ? 1 : x->a.shape[(cl ? 1 : 2) + s];
    g->k[a] = s < 0 ? 1 : w->a.shape[2 + s];
    g->stride[a] = s < 0 ? 1 : p->stride[s];
    g->dil[a] = s < 0 ? 1 : p->dilation[s];
    g->lo[a] = s < 0 ? 0 : p->pad_lo[s];
    g->hi[a] = s < 0 ? 0 : p->pad_hi[s];
    int64_t span = g->dil[a] * (g->k[a] - 1) + 1, padded = g->in[a] + g->lo[a] + g->hi[a];
    if (g->stride[a] < 1 || g->dil[a] < 1 || g->lo[a] < 0 || g->hi[a] < 0 || padded < span)
      return -CV_EINVALID_ARGUMENT;
    if ((p->padding_mode == CV_PADMODE_REFLECT || p->padding_mode == CV_PADMODE_CIRCULAR) &&
        (g->lo[a] >= g->in[a] || g->hi[a] >= g->in[a]))
      return -CV_EINVALID_ARGUMENT;
    g->out[a] = (padded - span) / g->stride[a] + 1;
  }
  g->padmode = p->padding_mode;
  g->flip = p->flip;
  g->channels_last = cl;
  g->algo = p->algo;
  g->tf32 = p->precision == CV_PRECISION_TF32;
  g->has_bias = b != NULL;
  if (xo) *xo = x;
  if (wo) *wo = w;
  if (bo) *bo = b;
  return 0;
}

/* ---- sizes ---- */

#define LIM40 ((int64_t)1 << 40)

int64_t cv_conv_fft_len(int64_t n) {
  if (n < 1 || n > LIM40) return 0;
  for (int64_t m = n;; m++) {
    int64_t r = m;
    static const int primes[] = {2, 3, 5, 7};
    for (int i = 0; i < 4; i++)
      while (r % primes[i] == 0) r /= primes[i];
    if (r == 1) return m;
  }
}

/* a·b, or -1 when either is negative or the product passes 2^62 */
static int64_t mul(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return -1;
  if (a != 0 && b > ((int64_t)1 << 62) / a) return -1;
  return a * b;
}

uint64_t cv_conv_fft_bytes(const cv_conv_geom_t *g) {
  int64_t P = 1, F = 1;
  for (int a = 3 - g->nsp; a < 3; a++) {
    int64_t len = cv_conv_fft_len(g->in[a] + g->lo[a] + g->hi[a]);
    if (len == 0) return 0;
    P = mul(P, len);
    F = mul(F, a == 2 ? len / 2 + 1 : len);
  }
  int64_t cg = g->c / (g->groups ? g->groups : 1);
  int64_t rows = g->n * g->c, wr = mul(g->cout, cg), yr = mul(g->n, g->cout);
  int64_t maxr = rows > wr ? rows : wr;
  if (yr > maxr) maxr = yr;
  int64_t es = g->dt == CV_DTYPE_F64 ? 8 : 4;
  int64_t real = mul(mul(maxr, P), es), cplx = mul(mul(mul(rows + wr + yr, F), 2), es);
  if (real < 0 || cplx < 0 || rows < 0 || wr < 0 || yr < 0) return 0;
  return (uint64_t)real + (uint64_t)cplx;
}

/* ---- rules ---- */

static bool gemm_applies(const cv_conv_geom_t *g) {
  if (g->groups != 1) return false;
  int64_t ck = g->c, o = 1;
  for (int a = 0; a < 3; a++) {
    if (g->lo[a] || g->hi[a]) return false;
    if (g->k[a] != 1 && (g->k[a] != g->stride[a] || g->dil[a] != 1)) return false;
    ck = mul(ck, g->k[a]);
    o = mul(o, g->out[a]);
  }
  int64_t no = mul(g->n, o);
  return ck > 0 && ck <= INT_MAX && no > 0 && no <= INT_MAX && g->cout <= INT_MAX && mul(no, ck) >= 0 &&
         mul(no, g->cout) >= 0;
}

static bool fft_applies(const cv_conv_geom_t *g, const cv_conv_caps_t *caps) {
  if (g->groups != 1) return false;
  uint64_t need = cv_conv_fft_bytes(g);
  if (need == 0 || (caps->mem_bytes && need > caps->mem_bytes / CV_CONV_FFT_MEM_DIV)) return false;
  int64_t dims = 1;
  for (int a = 3 - g->nsp; a < 3; a++) {
    int64_t len = cv_conv_fft_len(g->in[a] + g->lo[a] + g->hi[a]);
    if (len > INT_MAX) return false;
    dims = mul(dims, len);
  }
  /* cuFFT batches: N·C, Cout·C and N·Cout transforms, counted in int */
  return dims > 0 && mul(g->n, g->c) <= INT_MAX && mul(g->cout, g->c) <= INT_MAX && mul(g->n, g->cout) <= INT_MAX;
}

bool cv_conv_algo_applies(const cv_conv_geom_t *g, cv_conv_algo_t a, const cv_conv_caps_t *caps) {
  switch (a) {
    case CV_CONV_ALGO_DIRECT: return true;
    case CV_CONV_ALGO_GEMM: return caps->cublas && gemm_applies(g);
    case CV_CONV_ALGO_FFT: return caps->cufft && fft_applies(g, caps);
    /* cuDNN: f32 (TF32 only when asked), f16 and bf16 on tensor cores; no f64 */
    case CV_CONV_ALGO_CUDNN: return caps->cudnn && g->dt != CV_DTYPE_F64;
    case CV_CONV_ALGO_DEPTHTAP:
      return caps->cudnn && g->dt != CV_DTYPE_F64 && g->nsp == 3 && g->k[0] >= 2 &&
             g->k[0] <= CV_CONV_DEPTHTAP_MAX_KD;
    case CV_CONV_ALGO_AUTO:
    case CV_CONV_ALGO_COUNT: break;
  }
  return false;
}

int cv_conv_menu(const cv_conv_geom_t *g, const cv_conv_caps_t *caps, cv_conv_algo_t *out, int max) {
  int n = 0;
  int64_t cg = g->c / (g->groups ? g->groups : 1);
  bool tiny = cg <= CV_CONV_TINY_CHANNELS, large_k = true;
  for (int a = 3 - g->nsp; a < 3; a++) large_k &= g->k[a] >= CV_CONV_FFT_MIN_K;
#define ADD(x)                  \
  do {                          \
    if (n < max) out[n++] = (x); \
  } while (0)
  if (tiny) ADD(CV_CONV_ALGO_DIRECT);
  if (cv_conv_algo_applies(g, CV_CONV_ALGO_GEMM, caps)) ADD(CV_CONV_ALGO_GEMM);
  if (cv_conv_algo_applies(g, CV_CONV_ALGO_CUDNN, caps)) ADD(CV_CONV_ALGO_CUDNN);
  if (!tiny && cv_conv_algo_applies(g, CV_CONV_ALGO_DEPTHTAP, caps)) ADD(CV_CONV_ALGO_DEPTHTAP);
  if (large_k && cv_conv_algo_applies(g, CV_CONV_ALGO_FFT, caps)) ADD(CV_CONV_ALGO_FFT);
  /* the own kernel serves tiny channel counts (above) and whatever no library takes */
  if (!tiny && (n == 0 || !caps->cudnn)) ADD(CV_CONV_ALGO_DIRECT);
#undef ADD
  return n;
}

/* ---- keys ---- */

void cv_conv_sanitize_name(const char *name, char *buf, size_t cap) {
  size_t j = 0;
  if (!cap) return;
  for (size_t i = 0; name && name[i] && j + 1 < cap; i++) {
    char ch = name[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '-' || ch == '_';
    buf[j++] = ok ? ch : '_';
  }
  buf[j] = 0;
}

int cv_conv_plan_key(const cv_conv_geom_t *g, const char *device, char *buf, size_t cap) {
  char dev[96];
  cv_conv_sanitize_name(device, dev, sizeof dev);
  int len = snprintf(buf, cap,
                     "conv%d/%s/n%lld/c%lld/co%lld/g%lld/in%lldx%lldx%lld/k%lldx%lldx%lld/s%lldx%lldx%lld/"
                     "d%lldx%lldx%lld/lo%lldx%lldx%lld/hi%lldx%lldx%lld/%s/f%d/%s/b%d/%s/%s",
                     g->nsp, cv_dtype_name(g->dt), (long long)g->n, (long long)g->c, (long long)g->cout,
                     (long long)g->groups, (long long)g->in[0], (long long)g->in[1], (long long)g->in[2],
                     (long long)g->k[0], (long long)g->k[1], (long long)g->k[2], (long long)g->stride[0],
                     (long long)g->stride[1], (long long)g->stride[2], (long long)g->dil[0], (long long)g->dil[1],
                     (long long)g->dil[2], (long long)g->lo[0], (long long)g->lo[1], (long long)g->lo[2],
                     (long long)g->hi[0], (long long)g->hi[1], (long long)g->hi[2], cv_padmode_name(g->padmode),
                     g->flip, g->channels_last ? "ndhwc" : "ncdhw", g->has_bias, g->tf32 ? "tf32" : "default",
                     dev[0] ? dev : "_");
  return len < 0 || (size_t)len >= cap ? -CV_EINVALID_ARGUMENT : 0;
}
