/* test_npfile.c — disk outputs written in chunks (proto/npfile) and the
 * in-memory npz layout (proto/npz cv_npz_layout): .npy and .npz written in
 * uneven chunks read back bit-exact, forced zip64, out-of-order chunks
 * refused, commit without overwrite keeps an existing target, a write that
 * fails mid-way (RLIMIT_FSIZE → EFBIG → insufficient_storage) leaves no
 * temporary file, and a layout's segments form a loadable archive. */
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/npfile.h"
#include "runner.h"

static char dir[] = "/tmp/convoy-npfile-XXXXXX";

static void rm_dir(void);

static void setup(void) {
  CV_ASSERT(mkdtemp(dir) != NULL);
  atexit(rm_dir);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_dir(void) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

/* Files in dir whose name holds ".tmp". */
static int temp_files(void) {
  DIR *d = opendir(dir);
  CV_ASSERT(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp") != NULL;
  closedir(d);
  return n;
}

static cv_tensor_t *ramp(cv_dtype_t dt, int ndim, const int64_t *shape) {
  cv_tensor_t *t;
  cv_error_t err;
  CV_ASSERT_OK(cv_tensor_new(&t, dt, ndim, shape, 0, false, &err));
  unsigned char *p = t->a.data;
  for (size_t i = 0; i < t->nbytes; i++) p[i] = (unsigned char)(i * 131 + 7);
  return t;
}

/* Writes t's bytes in chunks of 1, 7, 4093, then 1 MiB + 3 (repeating). */
static int write_uneven(cv_npfile_t *f, const cv_tensor_t *t, cv_error_t *err) {
  static const size_t steps[] = {1, 7, 4093, (1u << 20) + 3};
  const unsigned char *p = t->a.data;
  size_t off = 0;
  for (int k = 0; off < t->nbytes; k++) {
    size_t n = steps[k % 4] < t->nbytes - off ? steps[k % 4] : t->nbytes - off;
    int rc = cv_npfile_write(f, off, p + off, n, err);
    if (rc) return rc;
    off += n;
  }
  return 0;
}

static void same(const cv_tensor_t *a, const cv_tensor_t *b) {
  CV_ASSERT_EQ(a->a.dtype, b->a.dtype);
  CV_ASSERT_EQ(a->a.ndim, b->a.ndim);
  for (int i = 0; i < a->a.ndim; i++) CV_ASSERT_EQ(a->a.shape[i], b->a.shape[i]);
  CV_ASSERT_EQ(a->nbytes, b->nbytes);
  CV_ASSERT(a->nbytes == 0 || memcmp(a->a.data, b->a.data, a->nbytes) == 0);
}

static void test_npy_chunks(void) {
  setup();
  char p[256];
  path_in(p, sizeof p, "a.npy");
  int64_t shape[3] = {37, 61, 129};
  cv_tensor_t *t = ramp(CV_DTYPE_F32, 3, shape), *back;
  cv_npfile_t f;
  cv_error_t err;
  CV_ASSERT_OK(cv_npfile_open(&f, p, CV_NPFILE_NPY, false, &err));
  CV_ASSERT(cv_npfile_tmp(&f) != NULL);
  CV_ASSERT(access(p, F_OK) != 0);   /* nothing at the target until commit */
  CV_ASSERT_OK(cv_npfile_begin(&f, "x", &t->a, &err));
  CV_ASSERT_OK(write_uneven(&f, t, &err));
  CV_ASSERT_OK(cv_npfile_end(&f, &err));
  CV_ASSERT(cv_npfile_begin(&f, "y", &t->a, &err) != 0);   /* one member only */
  CV_ASSERT_OK(cv_npfile_commit(&f, &err));
  cv_npfile_abort(&f);   /* after commit: a no-op */
  CV_ASSERT_OK(cv_npy_load(p, 0, &back, &err));
  same(t, back);
  CV_ASSERT_EQ(temp_files(), 0);
  cv_tensor_unref(back);
  cv_tensor_unref(t);
}

static void npz_case(bool zip64) {
  setup();
  char p[256];
  path_in(p, sizeof p, "b.npz");
  int64_t s1[2] = {300, 517}, s2[1] = {0}, s3[4] = {3, 5, 7, 11};
  cv_tensor_t *ts[3] = {ramp(CV_DTYPE_F64, 2, s1), ramp(CV_DTYPE_F32, 1, s2), ramp(CV_DTYPE_C64, 4, s3)};
  const char *names[3] = {"a", "empty", "d1_ddd"};
  cv_npfile_t f;
  cv_error_t err;
  CV_ASSERT_OK(cv_npfile_open(&f, p, CV_NPFILE_NPZ, false, &err));
  f.z.force_zip64 = zip64;
  for (int i = 0; i < 3; i++) {
    CV_ASSERT_OK(cv_npfile_begin(&f, names[i], &ts[i]->a, &err));
    CV_ASSERT_OK(write_uneven(&f, ts[i], &err));
    CV_ASSERT_OK(cv_npfile_end(&f, &err));
  }
  CV_ASSERT_OK(cv_npfile_commit(&f, &err));
  cv_named_tensor_t *out;
  int n;
  CV_ASSERT_OK(cv_npz_load(p, 0, &out, &n, &err));
  CV_ASSERT_EQ(n, 3);
  for (int i = 0; i < 3; i++) {
    CV_ASSERT_STREQ(out[i].name, names[i]);
    same(ts[i], out[i].t);
    cv_tensor_unref(ts[i]);
  }
  cv_named_tensors_free(out, n);
  CV_ASSERT_EQ(temp_files(), 0);
}

static void test_npz_chunks(void) { npz_case(false); }
static void test_npz_chunks_zip64(void) { npz_case(true); }

static void test_out_of_order(void) {
  setup();
  char p[256];
  path_in(p, sizeof p, "c.npz");
  int64_t shape[1] = {1000};
  cv_tensor_t *t = ramp(CV_DTYPE_F32, 1, shape);
  cv_npfile_t f;
  cv_error_t err;
  CV_ASSERT_OK(cv_npfile_open(&f, p, CV_NPFILE_NPZ, false, &err));
  CV_ASSERT(cv_npfile_write(&f, 0, t->a.data, 4, &err) != 0);   /* outside a member */
  CV_ASSERT_OK(cv_npfile_begin(&f, "a", &t->a, &err));
  CV_ASSERT_OK(cv_npfile_write(&f, 0, t->a.data, 100, &err));
  CV_ASSERT_EQ(cv_npfile_write(&f, 200, (char *)t->a.data + 200, 100, &err), -CV_EINTERNAL);   /* a gap */
  CV_ASSERT(f.failed);
  CV_ASSERT(cv_npfile_commit(&f, &err) != 0);
  CV_ASSERT_EQ(temp_files(), 1);   /* still there until abort */
  cv_npfile_abort(&f);
  CV_ASSERT_EQ(temp_files(), 0);
  CV_ASSERT(access(p, F_OK) != 0);
  /* too many bytes, and an end that comes early */
  CV_ASSERT_OK(cv_npfile_open(&f, p, CV_NPFILE_NPY, false, &err));
  CV_ASSERT_OK(cv_npfile_begin(&f, "a", &t->a, &err));
  CV_ASSERT(cv_npfile_write(&f, 0, t->a.data, 4001, &err) != 0);
  cv_npfile_abort(&f);
  CV_ASSERT_OK(cv_npfile_open(&f, p, CV_NPFILE_NPY, false, &err));
  CV_ASSERT_OK(cv_npfile_begin(&f, "a", &t->a, &err));
  CV_ASSERT_OK(cv_npfile_write(&f, 0, t->a.data, 3996, &err));
  CV_ASSERT(cv_npfile_end(&f, &err) != 0);
  cv_npfile_abort(&f);
  CV_ASSERT_EQ(temp_files(), 0);
  CV_ASSERT(access(p, F_OK) != 0);
  cv_tensor_unref(t);
}

static void write_whole(const char *p, cv_npfile_kind_t kind, bool overwrite, const cv_tensor_t *t, int want) {
  cv_npfile_t f;
  cv_error_t err;
  CV_ASSERT_OK(cv_npfile_open(&f, p, kind, overwrite, &err));
  CV_ASSERT_OK(cv_npfile_begin(&f, "a", &t->a, &err));
  CV_ASSERT_OK(cv_npfile_write(&f, 0, t->a.data, t->nbytes, &err));
  CV_ASSERT_OK(cv_npfile_end(&f, &err));
  CV_ASSERT_EQ(cv_npfile_commit(&f, &err), want);
  cv_npfile_abort(&f);
}

static void test_no_overwrite(void) {
  setup();
  char p[256];
  path_in(p, sizeof p, "d.npy");
  int64_t s1[1] = {10}, s2[1] = {20};
  cv_tensor_t *t1 = ramp(CV_DTYPE_F32, 1, s1), *t2 = ramp(CV_DTYPE_F64, 1, s2), *back;
  cv_error_t err;
  write_whole(p, CV_NPFILE_NPY, false, t1, 0);
  write_whole(p, CV_NPFILE_NPY, false, t2, -CV_ECONFLICT);   /* the first one stays */
  CV_ASSERT_OK(cv_npy_load(p, 0, &back, &err));
  same(t1, back);
  cv_tensor_unref(back);
  CV_ASSERT_EQ(temp_files(), 0);
  write_whole(p, CV_NPFILE_NPY, true, t2, 0);                /* overwrite replaces it */
  CV_ASSERT_OK(cv_npy_load(p, 0, &back, &err));
  same(t2, back);
  cv_tensor_unref(back);
  cv_tensor_unref(t1);
  cv_tensor_unref(t2);
}

/* A file size limit makes write(2) fail with EFBIG mid-way (as a full disk
 * would with ENOSPC): insufficient_storage, and abort leaves nothing. */
static void test_fail_mid_write(void) {
  setup();
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit rl = {.rlim_cur = 256 << 10, .rlim_max = RLIM_INFINITY};
  CV_ASSERT_OK(setrlimit(RLIMIT_FSIZE, &rl));
  int64_t shape[1] = {1 << 20};
  cv_tensor_t *t = ramp(CV_DTYPE_F32, 1, shape);
  for (int kind = 0; kind < 2; kind++) {
    char p[256];
    path_in(p, sizeof p, kind ? "e.npz" : "e.npy");
    cv_npfile_t f;
    cv_error_t err;
    CV_ASSERT_OK(cv_npfile_open(&f, p, kind ? CV_NPFILE_NPZ : CV_NPFILE_NPY, false, &err));
    CV_ASSERT_OK(cv_npfile_begin(&f, "a", &t->a, &err));
    int rc = write_uneven(&f, t, &err);
    CV_ASSERT_EQ(rc, -CV_EINSUFFICIENT_STORAGE);
    CV_ASSERT_EQ(err.code, CV_EINSUFFICIENT_STORAGE);
    CV_ASSERT_EQ(temp_files(), 1);
    cv_npfile_abort(&f);
    CV_ASSERT_EQ(temp_files(), 0);
    CV_ASSERT(access(p, F_OK) != 0);
  }
  cv_tensor_unref(t);
}

/* The layout's segments, written one after another, are an archive that
 * loads back; its CRCs match cv_npz_member_crc and its size is the sum. */
static void test_layout(void) {
  setup();
  char p[256];
  path_in(p, sizeof p, "f.npz");
  int64_t s1[3] = {17, 19, 23}, s2[1] = {0}, s3[2] = {2, 2};
  cv_tensor_t *ts[3] = {ramp(CV_DTYPE_F32, 3, s1), ramp(CV_DTYPE_F64, 1, s2), ramp(CV_DTYPE_I64, 2, s3)};
  cv_io_t ios[3] = {{.name = "a"}, {.name = "d1_aad"}, {.name = "z"}};
  uint32_t crcs[3];
  for (int i = 0; i < 3; i++) {
    ios[i].a = ts[i]->a;
    crcs[i] = cv_npz_member_crc(&ts[i]->a);
  }
  cv_npz_layout_t l;
  cv_error_t err;
  for (int pass = 0; pass < 2; pass++) {
    CV_ASSERT_OK(cv_npz_layout(ios, 3, pass ? crcs : NULL, &l, &err));
    FILE *fp = fopen(p, "wb");
    CV_ASSERT(fp);
    uint64_t total = 0;
    for (int k = 0; k < l.n_segs; k++) {
      CV_ASSERT_EQ(fwrite(l.segs[k].p, 1, l.segs[k].n, fp), l.segs[k].n);
      total += l.segs[k].n;
    }
    fclose(fp);
    CV_ASSERT_EQ(total, l.size);
    /* the data segments are the tensors' own memory */
    int data_segs = 0;
    for (int k = 0; k < l.n_segs; k++)
      for (int i = 0; i < 3; i++) data_segs += l.segs[k].p == ts[i]->a.data && ts[i]->nbytes;
    CV_ASSERT_EQ(data_segs, 2);
    cv_npz_layout_free(&l);
    cv_npz_layout_free(&l);
    cv_named_tensor_t *out;
    int n;
    CV_ASSERT_OK(cv_npz_load(p, 0, &out, &n, &err));
    CV_ASSERT_EQ(n, 3);
    for (int i = 0; i < 3; i++) {
      CV_ASSERT_STREQ(out[i].name, ios[i].name);
      same(ts[i], out[i].t);
    }
    cv_named_tensors_free(out, n);
  }
  strcpy(ios[2].name, "a");
  CV_ASSERT_EQ(cv_npz_layout(ios, 3, NULL, &l, &err), -CV_EINVALID_ARGUMENT);   /* duplicate */
  strcpy(ios[2].name, "a/b");
  CV_ASSERT_EQ(cv_npz_layout(ios, 3, NULL, &l, &err), -CV_EINVALID_ARGUMENT);
  for (int i = 0; i < 3; i++) cv_tensor_unref(ts[i]);
}

#define CV_TEST_LIST(XX)                                                                                     \
  XX(npy_chunks) XX(npz_chunks) XX(npz_chunks_zip64) XX(out_of_order) XX(no_overwrite) XX(fail_mid_write) \
  XX(layout)
CV_TEST_MAIN(CV_TEST_LIST)
