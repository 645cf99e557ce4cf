/* conv.c — cv_cpu_conv, the CPU conv op (design.md §2 "conv"): routes to oneDNN
 * (algo "gemm"; f32 and native bf16) or own kernels ("direct"; "depthtap" for
 * depthwise), converts half types to float32, pre-pads x for reflect/replicate/
 * circular, flips w for true convolution, moves NDHWC data for own kernels.
 * Called by CPU device workers; `threads` bounds its OpenMP threads. Set
 * CONVOY_CONV_VERBOSE=1 for one stderr line per call (route, impl, workspace). */
#include <inttypes.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "conv_internal.h"
#include "cpu.h"

/* ---- process-wide, set once: the verbose switch and the workspace key ---- */

typedef struct {
  pthread_once_t once;
  int verbose;               /* CONVOY_CONV_VERBOSE, read once (a cache of the environment) */
  int key_ok;
  pthread_key_t key;         /* each thread's kept workspace block (kept_t) */
} conv_global_t;

static conv_global_t g_conv = {PTHREAD_ONCE_INIT, 0, 0, 0};

/* ---- workspace: one block per thread, kept between calls ----
 * A call carves its temporaries from the calling thread's kept block; what
 * does not fit gets its own allocation, and at the end of the call the kept
 * block grows to the call's total, so the next call of that shape reuses warm
 * pages instead of faulting in fresh ones (worth ~25% on the 3-D bench case).
 * Blocks over CV_CONV_WS_KEEP_MAX are not kept; a thread's block is freed
 * when the thread exits. */

#define CV_CONV_ALIGN 64                           /* temporaries, for AVX-512 loads */
#define CV_CONV_WS_EXTRA 16                        /* blocks past the kept one, per call */
#define CV_CONV_WS_KEEP_MAX ((size_t)256 << 20)    /* largest block a thread keeps */

typedef struct {
  char *base;
  size_t cap;
} kept_t;

struct cv_conv_ws_s {
  kept_t *kept;                  /* the thread's block (NULL: nothing kept) */
  size_t used;                   /* bump offset into kept->base */
  void *extra[CV_CONV_WS_EXTRA];
  int n_extra;
  size_t total, high;            /* aligned bytes this attempt / the most over attempts */
  cv_conv_info_t *info;
};

static void kept_free(void *v) {
  kept_t *k = v;
  if (k) free(k->base);
  free(k);
}

static void conv_global_init(void) {
  const char *v = getenv("CONVOY_CONV_VERBOSE");
  g_conv.verbose = v && *v && strcmp(v, "0") != 0;
  g_conv.key_ok = pthread_key_create(&g_conv.key, kept_free) == 0;
}

static void ws_begin(cv_conv_ws_t *ws, cv_conv_info_t *info) {
  memset(ws, 0, sizeof *ws);
  ws->info = info;
  if (!g_conv.key_ok) return;
  ws->kept = pthread_getspecific(g_conv.key);
  if (!ws->kept && (ws->kept = calloc(1, sizeof *ws->kept)) && pthread_setspecific(g_conv.key, ws->kept)) {
    free(ws->kept);
    ws->kept = NULL;
  }
}

void *cv__conv_ws_alloc(cv_conv_ws_t *ws, size_t bytes) {
  size_t sz = (bytes + CV_CONV_ALIGN - 1) / CV_CONV_ALIGN * CV_CONV_ALIGN;
  if (!sz) sz = CV_CONV_ALIGN;
  void *p = NULL;
  if (ws->kept && ws->kept->base && ws->used + sz <= ws->kept->cap) {
    p = ws->kept->base + ws->used;
    ws->used += sz;
  } else if (ws->n_extra < CV_CONV_WS_EXTRA && (p = aligned_alloc(CV_CONV_ALIGN, sz))) {
    ws->extra[ws->n_extra++] = p;
  }
  if (p) {
    ws->total += sz;
    ws->info->workspace_bytes += bytes;
  }
  return p;
}

/* Drops this attempt's temporaries (the kept block stays). */
static void ws_reset(cv_conv_ws_t *ws) {
  for (int i = 0; i < ws->n_extra; i++) free(ws->extra[i]);
  ws->n_extra = 0;
  ws->used = 0;
  if (ws->total > ws->high) ws->high = ws->total;
  ws->total = 0;
  ws->info->workspace_bytes = 0;
}

/* Ends the call: frees extras, grows the kept block to the call's high-water. */
static void ws_end(cv_conv_ws_t *ws) {
  ws_reset(ws);
  kept_t *k = ws->kept;
  if (!k || ws->high <= k->cap) return;
  free(k->base);
  k->base = NULL;
  k->cap = 0;
  if (ws->high <= CV_CONV_WS_KEEP_MAX && (k->base = aligned_alloc(CV_CONV_ALIGN, ws->high))) k->cap = ws->high;
}

/* auto routing: own kernels for groups with at most this many (input, output)
 * channel pairs, and for depthwise convs except 2-D ones (multiplier 1) with at
 * least this many channels, where oneDNN's blocked depthwise kernel wins. */
#define CV_CONV_DIRECT_MAX_CHANNEL_PAIRS 6
#define CV_CONV_DNNL_DW2D_MIN_CHANNELS 16

/* ---- dtype conversion (half types <-> float32), in parallel ---- */

static void to_f32(float *dst, const void *src, cv_dtype_t st, int64_t n, int threads) {
  const uint16_t *s = src;
  if (st == CV_DTYPE_BF16) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
      uint32_t bits = (uint32_t)s[i] << 16;
      memcpy(&dst[i], &bits, 4);
    }
    return;
  }
#if defined(__F16C__)
  int64_t nv = n / 8 * 8;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < nv; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
  for (int64_t i = nv; i < n; i++) dst[i] = cv_f16_to_f32(s[i]);
#else
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) dst[i] = cv_f16_to_f32(s[i]);
#endif
}

static void from_f32(void *dst, cv_dtype_t dt, const float *src, int64_t n, int threads) {
  uint16_t *d = dst;
  if (dt == CV_DTYPE_BF16) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] = cv_f32_to_bf16(src[i]);
    return;
  }
#if defined(__F16C__)
  int64_t nv = n / 8 * 8;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < nv; i += 8)
    _mm_storeu_si128((__m128i *)(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (int64_t i = nv; i < n; i++) d[i] = cv_f32_to_f16(src[i]);
#else
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) d[i] = cv_f32_to_f16(src[i]);
#endif
}

/* ---- pre-padding (reflect, replicate, circular as torch.nn.functional.pad) ---- */

static int64_t pad_index(int64_t i, int64_t lo, int64_t n, cv_padmode_t m) {
  int64_t j = i - lo;
  switch (m) {
    case CV_PADMODE_REFLECT:
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      return j;
    case CV_PADMODE_REPLICATE: return j < 0 ? 0 : j >= n ? n - 1 : j;
    case CV_PADMODE_CIRCULAR: return ((j % n) + n) % n;
    case CV_PADMODE_ZEROS:
    case CV_PADMODE_COUNT: break;
  }
  return j;
}

/* Pads src (outer, D, H, W, inner) elements of es bytes into dst on all
 * three axes by g->lo/hi with mode m. `map` holds sum(padded sizes) int64s. */
static void pad_copy(void *dst, const void *src, const cv_conv_geom_t *g, int64_t outer, int64_t inner, size_t es,
                     cv_padmode_t m, int64_t *map, int threads) {
  int64_t pn[3], *mp[3];
  int64_t *cur = map;
  for (int a = 0; a < 3; a++) {
    pn[a] = g->in[a] + g->lo[a] + g->hi[a];
    mp[a] = cur;
    for (int64_t i = 0; i < pn[a]; i++) cur[i] = pad_index(i, g->lo[a], g->in[a], m);
    cur += pn[a];
  }
  const size_t px = inner * es;   /* bytes per spatial position */
  const int64_t rows = outer * pn[0] * pn[1];
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    int64_t ph = r % pn[1], pd = (r / pn[1]) % pn[0], o = r / (pn[1] * pn[0]);
    const char *s = (const char *)src + ((o * g->in[0] + mp[0][pd]) * g->in[1] + mp[1][ph]) * g->in[2] * px;
    char *d = (char *)dst + r * pn[2] * px;
    for (int64_t i = 0; i < g->lo[2]; i++) memcpy(d + i * px, s + mp[2][i] * px, px);
    memcpy(d + g->lo[2] * px, s, g->in[2] * px);
    for (int64_t i = g->lo[2] + g->in[2]; i < pn[2]; i++) memcpy(d + i * px, s + mp[2][i] * px, px);
  }
}

/* ---- layout moves: (N, R, C) <-> (N, C, R), for own kernels and oneDNN ---- */

#define CV_TRANSPOSE_BLOCK 32   /* scalar path: square tiles */
#define CV_TRANSPOSE_TILE 64    /* float32 path: rows and columns per work item (8×8 register tiles) */
#define CV_TRANSPOSE_NT_BYTES ((uint64_t)4 << 20)   /* float32 path: streaming stores from here on */

#if defined(__AVX2__)
/* d[j][i] = s[i][j] for an 8×8 float tile (rows ss / ds floats apart);
 * nt: non-temporal stores (d 32-byte aligned). */
static inline void tr8x8(float *d, int64_t ds, const float *s, int64_t ss, int nt) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + i * ss);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  if (nt) {
    for (int i = 0; i < 4; i++) {
      _mm256_stream_ps(d + i * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
      _mm256_stream_ps(d + (i + 4) * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
    return;
  }
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_ps(d + i * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(d + (i + 4) * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}
#endif

/* float32: work items are (batch, CV_TRANSPOSE_TILE² blocks), moved as 8×8
 * register tiles; both axes are split so that thin matrices (32 channels ×
 * 65536 points either way round) spread over every thread. Destinations of
 * CV_TRANSPOSE_NT_BYTES and more are written past the caches (non-temporal):
 * they outsize L2 anyway, and skipping the reads for ownership saved 3.5% of
 * the 1×32×16×64×64 3×3×3 conv. */
static void transpose_f32(float *dst, const float *src, const cv_conv_xpose_t *x, int threads) {
  const int64_t rows = x->rows, cols = x->cols, sr = x->s_r, dc = x->d_c;
  const int64_t rb = (rows + CV_TRANSPOSE_TILE - 1) / CV_TRANSPOSE_TILE, cb = (cols + CV_TRANSPOSE_TILE - 1) / CV_TRANSPOSE_TILE;
  const int nt = (uint64_t)(x->nb * rows * cols) * 4 >= CV_TRANSPOSE_NT_BYTES && (uintptr_t)dst % 32 == 0 &&
                 dc % 8 == 0 && x->d_n % 8 == 0;
  (void)nt;   /* used by the AVX2 tiles only */
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < x->nb * rb * cb; t++) {
      const int64_t n = t / (rb * cb), i0 = t / cb % rb * CV_TRANSPOSE_TILE, j0 = t % cb * CV_TRANSPOSE_TILE;
      const int64_t i1 = i0 + CV_TRANSPOSE_TILE < rows ? i0 + CV_TRANSPOSE_TILE : rows;
      const int64_t j1 = j0 + CV_TRANSPOSE_TILE < cols ? j0 + CV_TRANSPOSE_TILE : cols;
      const float *s = src + n * x->s_n;
      float *d = dst + n * x->d_n;
      int64_t j = j0;
#if defined(__AVX2__)
      const int64_t i8 = i0 + (i1 - i0) / 8 * 8;
      for (; j + 8 <= j1; j += 8) {
        for (int64_t i = i0; i < i8; i += 8) tr8x8(d + j * dc + i, dc, s + i * sr + j, sr, nt);
        for (int64_t i = i8; i < i1; i++)
          for (int64_t k = j; k < j + 8; k++) d[k * dc + i] = s[i * sr + k];
      }
#endif
      for (; j < j1; j++)
        for (int64_t i = i0; i < i1; i++) d[j * dc + i] = s[i * sr + j];
    }
#if defined(__AVX2__)
    if (nt) _mm_sfence();   /* each thread orders its streaming stores before the region ends */
#endif
  }
}

void cv__conv_transpose(void *dst, const void *src, const cv_conv_xpose_t *x, size_t es, int threads) {
  if (es == 4) {
    transpose_f32(dst, src, x, threads);
    return;
  }
  const int64_t rb = (x->rows + CV_TRANSPOSE_BLOCK - 1) / CV_TRANSPOSE_BLOCK;
  const int64_t cb = (x->cols + CV_TRANSPOSE_BLOCK - 1) / CV_TRANSPOSE_BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t t = 0; t < x->nb * rb * cb; t++) {
    int64_t bj = t % cb, bi = (t / cb) % rb, n = t / (cb * rb);
    const char *s = (const char *)src + (size_t)(n * x->s_n) * es;
    char *d = (char *)dst + (size_t)(n * x->d_n) * es;
    int64_t i1 = (bi + 1) * CV_TRANSPOSE_BLOCK < x->rows ? (bi + 1) * CV_TRANSPOSE_BLOCK : x->rows;
    int64_t j1 = (bj + 1) * CV_TRANSPOSE_BLOCK < x->cols ? (bj + 1) * CV_TRANSPOSE_BLOCK : x->cols;
    for (int64_t i = bi * CV_TRANSPOSE_BLOCK; i < i1; i++)
      for (int64_t j = bj * CV_TRANSPOSE_BLOCK; j < j1; j++)
        memcpy(d + (j * x->d_c + i) * es, s + (i * x->s_r + j) * es, es);
  }
}

/* w (Cout, C/g, KD, KH, KW) with every spatial axis reversed; es bytes each. */
static void flip_weights(void *dst, const void *src, const cv_conv_geom_t *g, size_t es) {
  const int64_t ksz = g->k[0] * g->k[1] * g->k[2], nk = g->cout * (g->c / g->groups);
  for (int64_t o = 0; o < nk; o++)
    for (int64_t i = 0; i < ksz; i++)
      memcpy((char *)dst + (o * ksz + ksz - 1 - i) * es, (const char *)src + (o * ksz + i) * es, es);
}

/* ---- geometry ---- */

static void make_geom(cv_conv_geom_t *g, const cv_conv_params_t *p, const cv_array_t *x, const cv_array_t *w,
                      const cv_array_t *y) {
  int nsp = p->nsp, cl = p->layout == CV_LAYOUT_NDHWC;
  memset(g, 0, sizeof *g);
  g->nsp = nsp;
  g->n = x->shape[0];
  g->c = cl ? x->shape[nsp + 1] : x->shape[1];
  g->cout = w->shape[0];
  g->groups = p->groups;
  for (int a = 0; a < 3; a++) {
    int i = a - (3 - nsp);   /* user's spatial index, < 0 for the padded-in axes */
    g->in[a] = i < 0 ? 1 : x->shape[(cl ? 1 : 2) + i];
    g->out[a] = i < 0 ? 1 : y->shape[(cl ? 1 : 2) + i];
    g->k[a] = i < 0 ? 1 : w->shape[2 + i];
    g->stride[a] = i < 0 ? 1 : p->stride[i];
    g->dil[a] = i < 0 ? 1 : p->dilation[i];
    g->lo[a] = i < 0 ? 0 : p->pad_lo[i];
    g->hi[a] = i < 0 ? 0 : p->pad_hi[i];
  }
}

static const cv_io_t *find_io(const cv_io_t *io, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(io[i].name, name) == 0) return &io[i];
  return NULL;
}

/* ---- routing: oneDNN ("gemm") or own kernels ("direct", "depthtap") ---- */

static int route(const cv_conv_params_t *p, const cv_conv_geom_t *g, cv_dtype_t dt, bool *use_dnnl,
                 cv_error_t *err) {
  *use_dnnl = false;
  switch (p->algo) {
    case CV_CONV_ALGO_AUTO: {   /* measured on this AVX-512 machine, 1 and 2 threads */
      const int64_t cg = g->c / g->groups, cog = g->cout / g->groups;
      const bool dw_groups = cg == 1 && g->groups > 1;   /* depthwise, possibly with a multiplier */
      const bool dnnl_dw = p->nsp == 2 && cog == 1 && g->c >= CV_CONV_DNNL_DW2D_MIN_CHANNELS;
      *use_dnnl = dt != CV_DTYPE_F64 && (dw_groups ? dnnl_dw : cg * cog > CV_CONV_DIRECT_MAX_CHANNEL_PAIRS);
      return 0;
    }
    case CV_CONV_ALGO_GEMM:
      if (dt == CV_DTYPE_F64)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "algo",
                            "algo gemm (oneDNN) has no float64 convolution on the CPU; use auto or direct");
      *use_dnnl = true;
      return 0;
    case CV_CONV_ALGO_DIRECT: return 0;
    case CV_CONV_ALGO_DEPTHTAP:
      if (!cv__conv_is_depthwise(g))
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "algo",
                            "algo depthtap needs a depthwise conv (groups == input channels)");
      return 0;
    case CV_CONV_ALGO_FFT:
    case CV_CONV_ALGO_CUDNN:
    case CV_CONV_ALGO_COUNT: break;
  }
  return cv_error_set(err, CV_EINVALID_ARGUMENT, "algo",
                      "algo %s is not available on the CPU backend (it has auto, direct, gemm, depthtap)",
                      cv_conv_algo_name(p->algo));
}

int cv_cpu_conv_check(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_error_t *err) {
  const cv_io_t *xi = find_io(in, n_in, "x"), *wi = find_io(in, n_in, "w");
  if (!xi || !wi || p->nsp < 1 || p->nsp > CV_CONV_MAX_SPATIAL || xi->a.ndim != p->nsp + 2 ||
      wi->a.ndim != p->nsp + 2)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "conv needs x and w of rank nsp + 2");
  cv_conv_geom_t g;
  make_geom(&g, p, &xi->a, &wi->a, &xi->a); /* output sizes do not matter to routing */
  bool use_dnnl;
  return route(p, &g, xi->a.dtype, &use_dnnl, err);
}

/* ---- entry ---- */

int cv_cpu_conv(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out, int n_out, int threads,
                cv_error_t *err) {
  pthread_once(&g_conv.once, conv_global_init);
  const cv_io_t *xi = find_io(in, n_in, "x"), *wi = find_io(in, n_in, "w"), *bi = find_io(in, n_in, "b");
  cv_io_t *yo = (cv_io_t *)find_io(out, n_out, "y");
  if (!xi || !wi || !yo || p->nsp < 1 || p->nsp > CV_CONV_MAX_SPATIAL || xi->a.ndim != p->nsp + 2 ||
      wi->a.ndim != p->nsp + 2 || yo->a.ndim != p->nsp + 2 || yo->a.dtype != xi->a.dtype)
    return cv_error_set(err, CV_EINTERNAL, NULL, "conv: inputs and outputs do not match the inferred shapes");
  const cv_dtype_t dt = xi->a.dtype;
  cv_conv_geom_t g;
  make_geom(&g, p, &xi->a, &wi->a, &yo->a);
  const bool depthwise = cv__conv_is_depthwise(&g);
  bool use_dnnl = false;
  int rc = route(p, &g, dt, &use_dnnl, err);
  if (rc) return rc;
  if (dt != CV_DTYPE_F32 && dt != CV_DTYPE_F64 && dt != CV_DTYPE_F16 && dt != CV_DTYPE_BF16)
    return cv_error_set(err, CV_EUNSUPPORTED_DTYPE, "inputs.x", "conv does not take %s", cv_dtype_name(dt));
  if (g.n == 0) return 0;   /* empty batch: nothing to compute */

  cv_conv_info_t info;
  memset(&info, 0, sizeof info);
  cv_conv_ws_t ws;
  ws_begin(&ws, &info);
  const int nthr = threads > 0 ? threads : omp_get_num_procs();
  const int saved_thr = omp_get_max_threads();
  omp_set_num_threads(nthr);   /* oneDNN (OpenMP runtime) sizes its teams from this */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);

  const bool cl = p->layout == CV_LAYOUT_NDHWC;
  const int64_t nx = cv_shape_numel(xi->a.shape, xi->a.ndim), nw = cv_shape_numel(wi->a.shape, wi->a.ndim);
  const int64_t ny = cv_shape_numel(yo->a.shape, yo->a.ndim);
  const bool bf16_native = use_dnnl && dt == CV_DTYPE_BF16;   /* tried first; f32 when oneDNN says no */
  bool tried_bf16 = false;
again:;
  /* compute dtype: float64 stays, bf16 may run natively in oneDNN, the rest in float32 */
  const cv_dtype_t ct = dt == CV_DTYPE_F64 ? CV_DTYPE_F64 : (bf16_native && !tried_bf16) ? CV_DTYPE_BF16 : CV_DTYPE_F32;
  const size_t es = cv_dtype_size(ct);
  const void *x = xi->a.data, *w = wi->a.data;
  void *y = yo->a.data;
  cv_conv_geom_t rg = g;   /* geometry the kernel runs on */

  if (dt != ct) {   /* half → float32 */
    void *t = cv__conv_ws_alloc(&ws, (size_t)nx * 4), *tw = cv__conv_ws_alloc(&ws, (size_t)nw * 4);
    if (!t || !tw) goto oom;
    to_f32(t, x, dt, nx, nthr);
    to_f32(tw, w, dt, nw, 1);
    x = t;
    w = tw;
  }
  if (p->padding_mode != CV_PADMODE_ZEROS &&
      (g.lo[0] | g.hi[0] | g.lo[1] | g.hi[1] | g.lo[2] | g.hi[2]) != 0) {
    for (int a = 0; a < 3; a++) {
      rg.in[a] += rg.lo[a] + rg.hi[a];
      rg.lo[a] = rg.hi[a] = 0;
    }
    void *t = cv__conv_ws_alloc(&ws, (size_t)(g.n * g.c * rg.in[0] * rg.in[1] * rg.in[2]) * es);
    int64_t *map = cv__conv_ws_alloc(&ws, (size_t)(rg.in[0] + rg.in[1] + rg.in[2]) * sizeof(int64_t));
    if (!t || !map) goto oom;
    pad_copy(t, x, &g, cl ? g.n : g.n * g.c, cl ? g.c : 1, es, p->padding_mode, map, nthr);
    x = t;
  }
  if (p->flip) {
    void *t = cv__conv_ws_alloc(&ws, (size_t)nw * es);
    if (!t) goto oom;
    flip_weights(t, w, &g, es);
    w = t;
  }
  /* bias: float32 for oneDNN and float32 kernels, float64 for float64 */
  const void *b = NULL;
  if (bi) {
    if (bi->a.dtype == (ct == CV_DTYPE_F64 ? CV_DTYPE_F64 : CV_DTYPE_F32)) {
      b = bi->a.data;
    } else {
      float *t = cv__conv_ws_alloc(&ws, (size_t)g.cout * 4);
      if (!t) goto oom;
      to_f32(t, bi->a.data, bi->a.dtype, g.cout, 1);
      b = t;
    }
  }
  void *yk = y;   /* where the kernel writes */
  if (dt != ct && ct == CV_DTYPE_F32 && !(yk = cv__conv_ws_alloc(&ws, (size_t)ny * 4))) goto oom;

  if (use_dnnl) {
    rc = cv__conv_dnnl(&rg, ct, p->layout, x, w, b, yk, p->algo == CV_CONV_ALGO_GEMM && ct == CV_DTYPE_F32, nthr,
                       &ws, &info, err);
    if (rc == CV__CONV_NOIMPL && ct == CV_DTYPE_BF16) {   /* no native bf16: redo in float32 */
      ws_reset(&ws);
      tried_bf16 = true;
      goto again;
    }
    if (rc == CV__CONV_NOIMPL) use_dnnl = false;   /* only oneDNN's reference code: ours is faster */
    else if (rc) goto done;
    else info.algo = "gemm";
  }
  if (!use_dnnl) {
    void *xk = (void *)x, *yd = yk;
    if (cl) {   /* own kernels run NCDHW */
      const int64_t sp_in = rg.in[0] * rg.in[1] * rg.in[2], sp_out = g.out[0] * g.out[1] * g.out[2];
      if (!(xk = cv__conv_ws_alloc(&ws, (size_t)(g.n * g.c * sp_in) * es)) ||
          !(yd = cv__conv_ws_alloc(&ws, (size_t)(g.n * g.cout * sp_out) * es)))
        goto oom;
      cv__conv_transpose(xk, x, &(cv_conv_xpose_t)CV_CONV_XPOSE_DENSE(g.n, sp_in, g.c), es, nthr);
    }
    if (ct == CV_DTYPE_F64)
      cv__conv_direct_f64(&rg, xk, w, b, yd, nthr);
    else
      cv__conv_direct_f32(&rg, xk, w, b, yd, nthr);
    if (cl) {
      const int64_t sp_out = g.out[0] * g.out[1] * g.out[2];
      cv__conv_transpose(yk, yd, &(cv_conv_xpose_t)CV_CONV_XPOSE_DENSE(g.n, g.cout, sp_out), es, nthr);
    }
    info.algo = depthwise ? "depthtap" : "direct";
    snprintf(info.impl, sizeof info.impl, "convoy:%s_%s", depthwise ? "depthwise" : "rows", cv_dtype_name(ct));
  }
  if (yk != y) from_f32(y, dt, yk, ny, nthr);
  goto done;
oom:
  rc = cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "conv: no memory for temporaries");
done:
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (g_conv.verbose && rc == 0)
    fprintf(stderr, "convoy conv: algo=%s impl=%s dtype=%s threads=%d workspace_bytes=%zu ms=%.3f\n", info.algo,
            info.impl, cv_dtype_name(dt), nthr, info.workspace_bytes,
            (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  ws_end(&ws);
  omp_set_num_threads(saved_thr);
  return rc;
}
