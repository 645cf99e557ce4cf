/* convoy.c — the convoy CLI: runs a job spec in-process through the same
 * engine as convoyd (`run`, `bench`), and lists ops and wavelets.
 * Exit codes: 0 job succeeded, 1 job failed, 2 bad usage or bad spec. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../engine/process.h"
#include "../proto/json_arena.h"
#include "../engine/engine.h"
#include "../engine/paths.h"
#include "../kernels/wavelet.h"
#include "../proto/job_json.h"
#include "../proto/npy.h"
#include "../proto/npz.h"
#include "../proto/ops_json.h"
#include "../proto/spec.h"
#include "../proto/wavelet_json.h"

#define CV_CLI_MAX_INPUTS 64
#define CV_CLI_MAX_SPEC_BYTES (256u << 20)

static const char usage[] =
    "usage:\n"
    "  convoy run SPEC.json [-i NAME=FILE.npy ...] [-o OUT.npz] [--threads N] [--data-dir DIR]\n"
    "  convoy bench SPEC.json [-i NAME=FILE.npy ...] [--repeat N] [--warmup N] [--threads N]\n"
    "               [--jobs N [--max-batch B] [--batch-delay-us D]]\n"
    "  convoy wavelets [NAME]\n"
    "  convoy ops\n"
    "SPEC is the JSON job spec of POST /v1/jobs ('-' reads stdin). -i adds or replaces\n"
    "an input; -o writes every output (or the spec's \"select\") to one .npz.\n"
    "file: inputs and the spec's \"output\" resolve under DIR/inputs and DIR/outputs\n"
    "(default DIR: var). Prints the finished job JSON; exit 0 succeeded, 1 failed,\n"
    "2 bad usage or bad spec. bench --jobs submits N copies at once and reports jobs/s.\n";

typedef struct cli_opts_s {
  const char *spec_path, *out_path, *data_dir;
  int n_inputs;
  const char *in_names[CV_CLI_MAX_INPUTS], *in_files[CV_CLI_MAX_INPUTS];
  char in_buf[CV_CLI_MAX_INPUTS][CV_NAME_MAX];
  int threads, repeat, warmup;
  int jobs, max_batch, batch_delay_us;   /* bench --jobs: throughput mode */
} cli_opts_t;

/* ---- output helpers ---- */

static void print_json(cJSON *j) {
  char *s = cJSON_PrintUnformatted(j);
  if (s) {
    puts(s);
    free(s);
  }
  cJSON_Delete(j);
}

static int fail_usage(const cv_error_t *e) {
  print_json(cv_error_to_json(e));
  return 2;
}

static char *read_all(const char *path, size_t *len, cv_error_t *err) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    cv_error_set(err, CV_ENOT_FOUND, NULL, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0) break;
    if (n == cap) {
      if (cap >= CV_CLI_MAX_SPEC_BYTES) {
        free(buf);
        buf = NULL;
        cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, NULL, "spec over %u bytes", CV_CLI_MAX_SPEC_BYTES);
        break;
      }
      char *nb = realloc(buf, cap * 2 + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for the spec");
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  if (f != stdin) fclose(f);
  if (buf) {
    buf[n] = 0;
    *len = n;
  }
  return buf;
}

/* ---- argument parsing ---- */

static int parse_int_arg(const char *s, int lo, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > INT_MAX) return -1;
  *out = (int)v;
  return 0;
}

static int parse_opts(int argc, char **argv, cli_opts_t *o, cv_error_t *err) {
  memset(o, 0, sizeof *o);
  o->data_dir = "var";
  o->repeat = 10;
  o->warmup = 2;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-i") && v) {
      const char *eq = strchr(v, '=');
      if (!eq || eq == v || (size_t)(eq - v) >= CV_NAME_MAX || o->n_inputs == CV_CLI_MAX_INPUTS)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "-i", "expected -i NAME=FILE.npy, got '%s'", v);
      memcpy(o->in_buf[o->n_inputs], v, (size_t)(eq - v));
      o->in_buf[o->n_inputs][eq - v] = 0;
      o->in_names[o->n_inputs] = o->in_buf[o->n_inputs];
      o->in_files[o->n_inputs++] = eq + 1;
      i++;
    } else if (!strcmp(a, "-o") && v) {
      o->out_path = v;
      i++;
    } else if (!strcmp(a, "--data-dir") && v) {
      o->data_dir = v;
      i++;
    } else if (!strcmp(a, "--threads") && v) {
      if (parse_int_arg(v, 1, &o->threads)) return cv_error_set(err, CV_EINVALID_ARGUMENT, "--threads", "bad count");
      i++;
    } else if (!strcmp(a, "--repeat") && v) {
      if (parse_int_arg(v, 1, &o->repeat)) return cv_error_set(err, CV_EINVALID_ARGUMENT, "--repeat", "bad count");
      i++;
    } else if (!strcmp(a, "--jobs") && v) {
      if (parse_int_arg(v, 1, &o->jobs)) return cv_error_set(err, CV_EINVALID_ARGUMENT, "--jobs", "bad count");
      i++;
    } else if (!strcmp(a, "--max-batch") && v) {
      if (parse_int_arg(v, 1, &o->max_batch)) return cv_error_set(err, CV_EINVALID_ARGUMENT, "--max-batch", "bad count");
      i++;
    } else if (!strcmp(a, "--batch-delay-us") && v) {
      if (parse_int_arg(v, 0, &o->batch_delay_us))
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "--batch-delay-us", "bad count");
      i++;
    } else if (!strcmp(a, "--warmup") && v) {
      if (parse_int_arg(v, 0, &o->warmup)) return cv_error_set(err, CV_EINVALID_ARGUMENT, "--warmup", "bad count");
      i++;
    } else if (a[0] == '-' && a[1] && !o->spec_path) {
      return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "unknown option %s", a);
    } else if (!o->spec_path) {
      o->spec_path = a;
    } else {
      return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "unexpected argument %s", a);
    }
  }
  if (!o->spec_path) return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "missing SPEC.json");
  return 0;
}

/* ---- building a job from a spec ---- */

/* Loads the spec, adds -i inputs, resolves file: inputs, and creates the job. */
static int make_job(const cli_opts_t *o, cv_spec_t *spec, cv_job_t **job, cv_error_t *err) {
  size_t len = 0;
  char *text = read_all(o->spec_path, &len, err);
  if (!text) return -(int)err->code;
  cv_spec_limits_t lim = {.max_tensor_bytes = 0};
  int rc = cv_spec_parse(text, len, &lim, spec, err);
  free(text);
  if (rc) return rc;
  for (int i = 0; i < o->n_inputs; i++) {
    cv_tensor_t *t;
    char field[CV_ERR_FIELD_MAX];
    snprintf(field, sizeof field, "inputs.%s", o->in_names[i]);
    rc = cv_npy_load(o->in_files[i], 0, &t, err);
    if (rc) {
      snprintf(err->field, sizeof err->field, "%s", field);
      return rc;
    }
    rc = cv_spec_add_input(spec, o->in_names[i], t, err);
    cv_tensor_unref(t);
    if (rc) return rc;
  }
  const char *names[CV_CLI_MAX_INPUTS];
  cv_tensor_t *tensors[CV_CLI_MAX_INPUTS];
  if (spec->n_inputs > CV_CLI_MAX_INPUTS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "more than %d inputs", CV_CLI_MAX_INPUTS);
  for (int i = 0; i < spec->n_inputs; i++) {
    cv_spec_input_t *in = &spec->inputs[i];
    char field[CV_ERR_FIELD_MAX];
    snprintf(field, sizeof field, "inputs.%s", in->name);
    if (in->kind == CV_INPUT_TENSOR)
      return cv_error_set(err, CV_ENOT_FOUND, field, "tensor:%s: the CLI has no tensor store", in->ref);
    if (in->kind == CV_INPUT_FILE) {
      char real[PATH_MAX];
      if ((rc = cv_resolve_input(o->data_dir, in->ref, field, real, sizeof real, err))) return rc;
      cv_tensor_t *t;
      if ((rc = cv_npy_map(real, 0, &t, err))) {
        snprintf(err->field, sizeof err->field, "%s", field);
        return rc;
      }
      in->tensor = t;
      in->kind = CV_INPUT_INLINE;
    }
    names[i] = in->name;
    tensors[i] = in->tensor;
  }
  rc = cv_job_create(job, &spec->params, spec->n_inputs, names, tensors, err);
  if (rc) return rc;
  (*job)->priority = spec->priority;
  (*job)->deadline_ns = cv_deadline_after_ms((*job)->created_ns, spec->timeout_ms);
  return 0;
}

static bool selected(const cv_spec_t *s, const char *name) {
  if (s->n_select == 0) return true;
  for (int i = 0; i < s->n_select; i++)
    if (!strcmp(s->select[i], name)) return true;
  return false;
}

/* Checks "select" names against the job's outputs. */
static int check_select(const cv_spec_t *s, const cv_job_t *j, cv_error_t *err) {
  for (int i = 0; i < s->n_select; i++) {
    bool found = false;
    for (int k = 0; k < j->outs.n_out && !found; k++) found = !strcmp(j->outs.out[k].name, s->select[i]);
    if (!found) {
      char field[CV_ERR_FIELD_MAX];
      snprintf(field, sizeof field, "select[%d]", i);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "the op has no output named '%s'", s->select[i]);
    }
  }
  return 0;
}

/* Where outputs go: -o, or the spec's output under data_dir/outputs.
 * Resolved and checked before the job runs, so a bad path never runs it. */
typedef struct out_target_s {
  enum { OUT_NONE, OUT_NPZ, OUT_DIR } kind;
  bool npy;                      /* OUT_DIR: one .npy per output (else .npz) */
  char path[PATH_MAX];           /* OUT_NPZ: the file; OUT_DIR: the folder */
} out_target_t;

/* The file of one output in an OUT_DIR target; out is cleared when the
 * name does not fit (the write then fails with a clear error). */
static void dir_member(const out_target_t *t, const char *name, char *out, size_t cap) {
  size_t n = strlen(t->path);
  int k = snprintf(out, cap, "%s%s%s.%s", t->path, n && t->path[n - 1] == '/' ? "" : "/", name,
                   t->npy ? "npy" : "npz");
  if (k < 0 || (size_t)k >= cap) out[0] = 0;
}

static int resolve_outputs(const cli_opts_t *o, const cv_spec_t *s, const cv_job_t *j, out_target_t *t,
                           cv_error_t *err) {
  memset(t, 0, sizeof *t);
  if (o->out_path) {
    t->kind = OUT_NPZ;
    snprintf(t->path, sizeof t->path, "%s", o->out_path);
    return 0;
  }
  if (!s->has_output) return 0;
  int rc;
  if (s->output_path) {
    t->kind = OUT_NPZ;
    if ((rc = cv_resolve_output(o->data_dir, s->output_path, "output.path", t->path, sizeof t->path, err)))
      return rc;
    if (!s->overwrite && access(t->path, F_OK) == 0)
      return cv_error_set(err, CV_ECONFLICT, "output.path", "%s exists (set \"overwrite\": true)", s->output_path);
    return 0;
  }
  t->kind = OUT_DIR;
  t->npy = s->output_npy;
  if ((rc = cv_resolve_output(o->data_dir, s->output_dir, "output.dir", t->path, sizeof t->path, err))) return rc;
  for (int i = 0; i < j->outs.n_out; i++) {
    char path[PATH_MAX];
    if (!selected(s, j->outs.out[i].name)) continue;
    dir_member(t, j->outs.out[i].name, path, sizeof path);
    if (!s->overwrite && access(path, F_OK) == 0)
      return cv_error_set(err, CV_ECONFLICT, "output.dir", "%s exists (set \"overwrite\": true)", path);
  }
  return 0;
}

/* Writes the selected outputs to the target and adds "path" to each output
 * in the job JSON. Each file is written atomically (temp, fsync, rename). */
static int write_outputs(const cv_spec_t *s, const out_target_t *t, cv_job_t *j, cJSON *json, cv_error_t *err) {
  if (t->kind == OUT_NONE) return 0;
  int n = 0, rc = 0;
  cv_io_t *ios = calloc((size_t)j->outs.n_out + 1, sizeof *ios);
  if (!ios) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  for (int i = 0; i < j->outs.n_out; i++)
    if (selected(s, j->outs.out[i].name)) ios[n++] = j->outs.out[i];
  cJSON *outs = cJSON_GetObjectItemCaseSensitive(json, "outputs");
  for (int i = 0; !rc && i < n; i++) {
    char path[PATH_MAX];
    if (t->kind == OUT_NPZ) {
      if (i == 0) rc = cv_npz_save(t->path, ios, n, false, err);
      snprintf(path, sizeof path, "%s", t->path);
    } else {
      dir_member(t, ios[i].name, path, sizeof path);
      rc = t->npy ? cv_npy_save(path, &ios[i].a, err) : cv_npz_save(path, &ios[i], 1, false, err);
    }
    if (!rc) cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(outs, ios[i].name), "path", path);
  }
  free(ios);
  return rc;
}

/* ---- commands ---- */

static int engine_start(cv_engine_t *e, int threads, int64_t delay_us, cv_error_t *err) {
  cv_engine_config_t cfg;
  cv_engine_config_default(&cfg);
  cfg.threads = threads;
  cfg.max_batch_delay_us = delay_us;
  return cv_engine_init(e, &cfg, err);
}

/* bench --jobs N: submits N copies of the job at once and reports jobs/s,
 * the mean batch size and the number of backend calls. */
static int bench_throughput(const cli_opts_t *o) {
  cv_error_t err = {0};
  cv_engine_t eng = {0};
  cv_engine_config_t cfg;
  cv_engine_config_default(&cfg);
  cfg.threads = o->threads;
  cfg.max_queue_jobs = o->jobs;
  cfg.max_batch = o->max_batch > 0 ? o->max_batch : cfg.max_batch;
  cfg.max_batch_delay_us = o->batch_delay_us;
  int rc = cv_engine_init(&eng, &cfg, &err);
  cv_job_t **jobs = calloc((size_t)o->jobs, sizeof *jobs);
  cv_spec_t *specs = calloc((size_t)o->jobs, sizeof *specs);
  if (!rc && (!jobs || !specs)) rc = cv_error_set(&err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  for (int i = 0; !rc && i < o->jobs; i++) rc = make_job(o, &specs[i], &jobs[i], &err);
  int64_t t0 = cv_now_ns();
  for (int i = 0; !rc && i < o->jobs; i++) rc = cv_engine_submit(&eng, jobs[i], &err);
  int failed = 0;
  long batch_sum = 0;
  for (int i = 0; !rc && i < o->jobs; i++) {
    cv_job_wait(jobs[i], -1);
    failed += atomic_load(&jobs[i]->state) != CV_JOB_SUCCEEDED;
    batch_sum += jobs[i]->batch_size;
  }
  double s = (double)(cv_now_ns() - t0) / 1e9;
  if (!rc)
    printf("{\"jobs\":%d,\"seconds\":%.4f,\"jobs_per_s\":%.1f,\"mean_batch_size\":%.2f,\"backend_calls\":%llu,"
           "\"failed\":%d,\"max_batch\":%d}\n",
           o->jobs, s, o->jobs / s, (double)batch_sum / o->jobs, (unsigned long long)atomic_load(&eng.stats.batches),
           failed, cfg.max_batch);
  else
    print_json(cv_error_to_json(&err));
  cv_engine_close(&eng);
  for (int i = 0; jobs && specs && i < o->jobs; i++) {
    cv_job_unref(jobs[i]);
    cv_spec_free(&specs[i]);
  }
  free(jobs);
  free(specs);
  return rc || failed ? 1 : 0;
}

static int cmd_run(int argc, char **argv) {
  cli_opts_t o;
  cv_error_t err = {0};
  cv_spec_t spec = {0};
  cv_job_t *job = NULL;
  cv_engine_t eng = {0};
  out_target_t target;
  int rc = parse_opts(argc, argv, &o, &err);
  if (!rc) rc = make_job(&o, &spec, &job, &err);
  if (!rc) rc = check_select(&spec, job, &err);
  if (!rc) rc = resolve_outputs(&o, &spec, job, &target, &err);
  if (rc) {
    cv_job_unref(job);
    cv_spec_free(&spec);
    return fail_usage(&err);
  }
  int exit_code = 1;
  if ((rc = engine_start(&eng, o.threads, 0, &err)) == 0 && (rc = cv_engine_submit(&eng, job, &err)) != 0)
    exit_code = 2; /* refused at submission: the spec asks for what no device can do */
  if (rc == 0) {
    cv_job_wait(job, -1);
    cJSON *json = cv_job_to_json(job, NULL);
    if (atomic_load(&job->state) == CV_JOB_SUCCEEDED) {
      rc = write_outputs(&spec, &target, job, json, &err);
      if (rc) {
        cJSON_Delete(json);
        json = cv_error_to_json(&err);
      } else {
        exit_code = 0;
      }
    }
    print_json(json);
  } else {
    print_json(cv_error_to_json(&err));
  }
  cv_engine_close(&eng);
  cv_job_unref(job);
  cv_spec_free(&spec);
  return exit_code;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv) {
  cli_opts_t o;
  cv_error_t err = {0};
  cv_engine_t eng = {0};
  int rc = parse_opts(argc, argv, &o, &err);
  if (rc) return fail_usage(&err);
  if (o.jobs) return bench_throughput(&o);
  if ((rc = engine_start(&eng, o.threads, 0, &err))) return fail_usage(&err);
  double *ms = calloc((size_t)o.repeat, sizeof *ms);
  int exit_code = 0;
  for (int r = 0; ms && r < o.warmup + o.repeat; r++) {
    cv_spec_t spec = {0};
    cv_job_t *job = NULL;
    rc = make_job(&o, &spec, &job, &err);
    if (!rc) rc = cv_engine_submit(&eng, job, &err);
    if (!rc) {
      cv_job_wait(job, -1);
      if (atomic_load(&job->state) != CV_JOB_SUCCEEDED) {
        err = job->error;
        rc = -(int)err.code;
      } else if (r >= o.warmup) {
        ms[r - o.warmup] = (double)(job->finished_ns - job->started_ns) / 1e6;
      }
    }
    cv_job_unref(job);
    cv_spec_free(&spec);
    if (rc) {
      print_json(cv_error_to_json(&err));
      exit_code = 1;
      break;
    }
  }
  if (!exit_code && ms) {
    qsort(ms, (size_t)o.repeat, sizeof *ms, cmp_double);
    printf("{\"median_ms\":%.4f,\"min_ms\":%.4f,\"runs\":%d,\"threads\":%d}\n", ms[o.repeat / 2], ms[0], o.repeat,
           eng.devs[eng.n_devs - 1].threads);
  }
  free(ms);
  cv_engine_close(&eng);
  return exit_code;
}

static int cmd_wavelets(int argc, char **argv) {
  if (argc > 3) {
    fputs(usage, stderr);
    return 2;
  }
  if (argc == 3) {
    const cv_wavelet_info_t *w = cv_wavelet_find(argv[2]);
    if (!w) {
      cv_error_t err;
      cv_error_set(&err, CV_ENOT_FOUND, "wavelet", "unknown wavelet '%s'", argv[2]);
      print_json(cv_error_to_json(&err));
      return 1;
    }
    char *s = cv_wavelet_json(w);
    if (!s) return 1;
    puts(s);
    free(s);
    return 0;
  }
  for (int i = 0; i < cv_wavelet_count(); i++) {
    const cv_wavelet_info_t *w = cv_wavelet_get(i);
    printf("%s %s\n", w->name, w->family);
  }
  return 0;
}

static int cmd_ops(void) {
  cJSON *root = cv_ops_json();
  if (!root) return 1;
  print_json(root);
  return 0;
}

int main(int argc, char **argv) {
  cv_process_setup(argv);    /* passive OpenMP waits (one re-exec), malloc thresholds */
  cv_json_hooks_install();   /* before any thread: cJSON's hooks are process-wide */
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "run")) return cmd_run(argc, argv);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc, argv);
  if (!strcmp(cmd, "wavelets")) return cmd_wavelets(argc, argv);
  if (!strcmp(cmd, "ops")) return cmd_ops();
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    fputs(usage, stdout);
    return 0;
  }
  fputs(usage, stderr);
  return 2;
}
