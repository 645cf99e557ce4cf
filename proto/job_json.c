/* job_json.c — job JSON and error bodies written straight into a strbuf
 * (numbers by the cv_fmt_* printers of json_num.h, tensor data by
 * tensor_json.h). The job's mutable fields are snapshotted under j->mu and
 * formatted unlocked. The cJSON entry points parse what the writer made. */
#include "job_json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json_num.h"
#include "tensor_json.h"

static char *put_digits(char *p, int v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
  return p + n;
}

void cv_format_rfc3339(int64_t rt_ns, char *buf, size_t cap) {
  time_t s = (time_t)(rt_ns / 1000000000);
  int ms = (int)((rt_ns / 1000000) % 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char tmp[32], *p = tmp;
  if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 || ms < 0) {
    snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
    return;
  }
  p = put_digits(p, tm.tm_year + 1900, 4);
  *p++ = '-';
  p = put_digits(p, tm.tm_mon + 1, 2);
  *p++ = '-';
  p = put_digits(p, tm.tm_mday, 2);
  *p++ = 'T';
  p = put_digits(p, tm.tm_hour, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_min, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_sec, 2);
  *p++ = '.';
  p = put_digits(p, ms, 3);
  *p++ = 'Z';
  size_t n = (size_t)(p - tmp);
  if (!cap) return;
  if (n >= cap) n = cap - 1;
  memcpy(buf, tmp, n);
  buf[n] = 0;
}

void cv_job_json_opts_init(cv_job_json_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->state = -1;
}

int cv_error_json_append(cv_strbuf_t *sb, const cv_error_t *e) {
  cv_strbuf_puts(sb, "{\"error\":{\"code\":");
  cv_strbuf_json_string(sb, cv_err_name(e->code));
  cv_strbuf_puts(sb, ",\"message\":");
  cv_strbuf_json_string(sb, e->message[0] ? e->message : cv_strerror(e->code));
  cv_strbuf_puts(sb, ",\"field\":");
  if (e->field[0])
    cv_strbuf_json_string(sb, e->field);
  else
    cv_strbuf_puts(sb, "null");
  return cv_strbuf_puts(sb, "}}");
}

/* The fields that change while a job lives, copied under its lock. */
typedef struct job_snap_s {
  int state;
  int64_t created_rt, started_rt, finished_rt, created, started, finished;
  char device[sizeof ((cv_job_t *)0)->device];
  int batch_size;
  cv_error_t error;
} job_snap_t;

static void snapshot(cv_job_t *j, job_snap_t *s) {
  pthread_mutex_lock(&j->mu);
  s->state = atomic_load(&j->state);
  s->created_rt = j->created_rt_ns;
  s->started_rt = j->started_rt_ns;
  s->finished_rt = j->finished_rt_ns;
  s->created = j->created_ns;
  s->started = j->started_ns;
  s->finished = j->finished_ns;
  memcpy(s->device, j->device, sizeof s->device);
  s->device[sizeof s->device - 1] = 0;
  s->batch_size = j->batch_size;
  s->error = j->error;
  pthread_mutex_unlock(&j->mu);
}

static void put_time(cv_strbuf_t *sb, const char *key, int64_t rt_ns) {
  cv_strbuf_puts(sb, key);
  if (!rt_ns) {
    cv_strbuf_puts(sb, "null");
    return;
  }
  char buf[40];
  cv_format_rfc3339(rt_ns, buf, sizeof buf);
  cv_strbuf_putc(sb, '"');
  cv_strbuf_puts(sb, buf);
  cv_strbuf_putc(sb, '"');
}

/* Milliseconds with three decimals ("0.694"), from integer microseconds. */
static void put_ms(cv_strbuf_t *sb, const char *key, int64_t a, int64_t b) {
  cv_strbuf_puts(sb, key);
  if (!a || !b || b < a) {
    cv_strbuf_puts(sb, "null");
    return;
  }
  int64_t us = (b - a + 500) / 1000;
  char buf[CV_FMT_NUM_MAX + 8];
  int n = cv_fmt_i64(us / 1000, buf);
  int frac = (int)(us % 1000);
  buf[n++] = '.';
  buf[n++] = (char)('0' + frac / 100);
  buf[n++] = (char)('0' + frac / 10 % 10);
  buf[n++] = (char)('0' + frac % 10);
  cv_strbuf_append(sb, buf, (size_t)n);
}

static void put_i64(cv_strbuf_t *sb, int64_t v) {
  char buf[CV_FMT_NUM_MAX];
  cv_strbuf_append(sb, buf, (size_t)cv_fmt_i64(v, buf));
}

static int put_outputs(cv_strbuf_t *sb, cv_job_t *j, const cv_job_json_opts_t *o) {
  cv_strbuf_puts(sb, "{");
  bool first = true;
  for (int i = 0; i < j->outs.n_out; i++) {
    if (o->selected && !o->selected[i]) continue;
    const cv_io_t *io = &j->outs.out[i];
    if (!first) cv_strbuf_putc(sb, ',');
    first = false;
    cv_strbuf_json_string(sb, io->name);
    cv_strbuf_puts(sb, ":{\"shape\":[");
    for (int d = 0; d < io->a.ndim; d++) {
      if (d) cv_strbuf_putc(sb, ',');
      put_i64(sb, io->a.shape[d]);
    }
    cv_strbuf_puts(sb, "],\"dtype\":\"");
    cv_strbuf_puts(sb, cv_dtype_name(io->a.dtype));
    cv_strbuf_puts(sb, "\",\"bytes\":");
    put_i64(sb, (int64_t)cv_array_nbytes(&io->a));
    if (o->url_prefix) {
      cv_strbuf_puts(sb, ",\"url\":\"");
      cv_strbuf_puts(sb, o->url_prefix);
      cv_strbuf_puts(sb, j->id);
      cv_strbuf_puts(sb, "/result/");
      cv_strbuf_puts(sb, io->name);
      cv_strbuf_putc(sb, '"');
    }
    if (o->tensor_ids && o->tensor_ids[i]) {
      cv_strbuf_puts(sb, ",\"tensor\":");
      cv_strbuf_json_string(sb, o->tensor_ids[i]);
    }
    if (o->paths && o->paths[i]) {
      cv_strbuf_puts(sb, ",\"path\":");
      cv_strbuf_json_string(sb, o->paths[i]);
    }
    if (o->with_data && j->out_t && j->out_t[i]) {
      cv_array_t a = io->a;
      a.data = j->out_t[i]->a.data;
      cv_strbuf_puts(sb, o->b64 ? ",\"data_b64\":" : ",\"data\":");
      cv_tensor_data_json(&a, o->b64, sb);
    }
    cv_strbuf_putc(sb, '}');
  }
  return cv_strbuf_putc(sb, '}');
}

int cv_job_json_append(cv_strbuf_t *sb, cv_job_t *j, const cv_job_json_opts_t *o) {
  cv_job_json_opts_t def;
  if (!o) {
    cv_job_json_opts_init(&def);
    o = &def;
  }
  job_snap_t s;
  snapshot(j, &s);
  int state = o->state >= 0 ? o->state : s.state;
  const cv_error_t *error = o->error ? o->error : &s.error;
  cv_strbuf_puts(sb, "{\"id\":\"");
  cv_strbuf_puts(sb, j->id);
  cv_strbuf_puts(sb, "\",\"op\":\"");
  cv_strbuf_puts(sb, cv_op_name(j->op));
  cv_strbuf_puts(sb, "\",\"state\":\"");
  cv_strbuf_puts(sb, cv_job_state_name((cv_job_state_t)state));
  cv_strbuf_puts(sb, "\",\"priority\":");
  put_i64(sb, j->priority);
  bool final = state == CV_JOB_SUCCEEDED || state == CV_JOB_FAILED || state == CV_JOB_CANCELLED;
  put_time(sb, ",\"created_at\":", s.created_rt);
  put_time(sb, ",\"started_at\":", s.started_rt);
  put_time(sb, ",\"finished_at\":", final ? s.finished_rt : 0);
  put_ms(sb, ",\"queue_ms\":", s.created, s.started ? s.started : (final ? s.finished : 0));
  put_ms(sb, ",\"run_ms\":", s.started, final ? s.finished : 0);
  cv_strbuf_puts(sb, ",\"device\":");
  if (s.device[0])
    cv_strbuf_json_string(sb, s.device);
  else
    cv_strbuf_puts(sb, "null");
  cv_strbuf_puts(sb, ",\"batch_size\":");
  if (s.batch_size)
    put_i64(sb, s.batch_size);
  else
    cv_strbuf_puts(sb, "null");
  cv_strbuf_puts(sb, ",\"outputs\":");
  if (state == CV_JOB_SUCCEEDED)
    put_outputs(sb, j, o);
  else
    cv_strbuf_puts(sb, "null");
  cv_strbuf_puts(sb, ",\"error\":");
  if (state == CV_JOB_FAILED || state == CV_JOB_CANCELLED) {
    /* the inner object of the error body */
    size_t mark = sb->len;
    cv_error_json_append(sb, error);
    if (!sb->failed) {
      size_t inner = strlen("{\"error\":");
      memmove(sb->data + mark, sb->data + mark + inner, sb->len - mark - inner);
      sb->len -= inner + 1;   /* and the closing brace */
      sb->data[sb->len] = 0;
    }
  } else {
    cv_strbuf_puts(sb, "null");
  }
  cv_strbuf_puts(sb, ",\"warnings\":[");
  for (int i = 0; i < j->outs.n_warn; i++) {
    if (i) cv_strbuf_putc(sb, ',');
    cv_strbuf_json_string(sb, j->outs.warn[i]);
  }
  return cv_strbuf_puts(sb, "]}");
}

cJSON *cv_job_to_json(cv_job_t *j, const char *url_prefix) {
  cv_job_json_opts_t o;
  cv_job_json_opts_init(&o);
  o.url_prefix = url_prefix;
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  if (cv_job_json_append(&sb, j, &o)) return NULL;
  cJSON *root = cJSON_ParseWithLength(sb.data, sb.len);
  cv_strbuf_free(&sb);
  return root;
}

cJSON *cv_error_to_json(const cv_error_t *e) {
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  if (cv_error_json_append(&sb, e)) return NULL;
  cJSON *root = cJSON_ParseWithLength(sb.data, sb.len);
  cv_strbuf_free(&sb);
  return root;
}
