/* server.h — convoyd's internals shared by the server/ sources: the server state
 * (cv_server_t), a request (cv_req_t, one per HTTP request, freed in MHD's
 * request-completed callback) and the per-job context (cv_jobctx_t, the
 * job's `user`, freed with the job). Threads: MHD threads parse and submit;
 * the engine worker only queues completions; the libuv loop thread finishes
 * jobs (keep, disk sinks, store), fires wait_s timers and resumes
 * connections. Lock order: srv->mu, then a job's mu. */
#ifndef CV_SERVER_H
#define CV_SERVER_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <uv.h>

#include "../config/config.h"
#include "../config/log.h"
#include "../engine/engine.h"
#include "../engine/store.h"
#include "../proto/job_json.h"
#include "../proto/npy.h"
#include "../proto/spec.h"
#include "../proto/strbuf.h"
#include "auth.h"
#include "metrics.h"
#include "multipart.h"
#include "router.h"

typedef struct cv_server_s cv_server_t;
typedef struct cv_req_s cv_req_t;

#define CV_RETRY_AFTER_QUEUE_S 1      /* Retry-After on 429 */
#define CV_RETRY_AFTER_DRAIN_S 5      /* Retry-After on 503 shutting_down / out_of_memory */
#define CV_RETRY_AFTER_POLL_S 1       /* Retry-After on a 202 for a running job */
#define CV_SWEEP_INTERVAL_MS 1000     /* result-store TTL sweep */
#define CV_FLUSH_GRACE_MS 2000        /* at exit: time for resumed answers to leave */
#define CV_URL_JOBS "/v1/jobs/"

/* ---- response formats and Accept negotiation (reply.c) ---- */

#define CV_FMT_MAP(XX)                              \
  XX(JSON, "application/json")                      \
  XX(NPZ, "application/zip")                        \
  XX(NPY, "application/x-npy")                      \
  XX(YAML, "application/yaml")                      \
  XX(TEXT, "text/plain")

typedef enum {
#define XX(uc, mime) CV_FMT_##uc,
  CV_FMT_MAP(XX)
#undef XX
  CV_FMT_COUNT
} cv_fmt_t;

/* Picks one of offers[0..n) (offers[0] is the default) for an Accept value
 * (NULL or empty: the default). q-values are honoured; ties go to the more
 * specific match, then to the offer order. -1 when none is acceptable. */
int cv_accept_pick(const char *accept, const cv_fmt_t *offers, int n);
const char *cv_fmt_mime(cv_fmt_t f);

/* ---- the per-job context ---- */

typedef enum { CV_SINK_NONE, CV_SINK_FILE, CV_SINK_DIR } cv_sink_kind_t;
typedef struct cv_dsink_s cv_dsink_t;   /* a job's disk writer (sink.c) */

typedef struct cv_jobctx_s cv_jobctx_t;
struct cv_jobctx_s {
  cv_server_t *srv;
  char rid[CV_REQUEST_ID_MAX + 1];
  int n_out;
  bool *selected;                        /* [n_out]; NULL = every output */
  bool keep, result_b64;
  char (*tensor_ids)[CV_STORE_ID_MAX];   /* [n_out] when kept */
  const char **tid;                      /* [n_out] → tensor_ids[i] (job JSON) */
  cv_sink_kind_t sink;
  bool sink_npy, overwrite;              /* DIR: .npy per output (else .npz per output) */
  char *sink_abs;                        /* resolved file or folder */
  char *sink_rel;                        /* as the spec gave it */
  char **path_rel;                       /* [n_out] display paths once written */
  cv_error_t sink_err;
  cv_dsink_t *ds;                        /* the writer state (sink.c); NULL without output */
  atomic_bool done;                      /* completion processed: the client-visible end */
  atomic_bool cancel;                    /* DELETE while the disk sink writes */
  /* guarded by srv->mu */
  cv_req_t *waiters;                     /* sync submits and long polls on this job */
  cv_jobctx_t *done_next;                /* the server's completion list … */
  cv_job_t *job;                         /* … and its job (a reference while listed) */
  bool wake_only;                        /* … listed only to wake waiters (finished inline) */
};

/* Builds the job JSON options from a job's context (state "running" until
 * its completion is processed). with_data: add the outputs' data. */
void cv_jobctx_json_opts(cv_job_t *j, bool with_data, bool b64, cv_job_json_opts_t *o);
/* The state a client sees (running until the completion is processed). */
cv_job_state_t cv_jobctx_state(cv_job_t *j);

/* ---- a request ---- */

typedef enum { CV_BODY_NONE, CV_BODY_JSON, CV_BODY_MULTIPART, CV_BODY_NPY } cv_body_kind_t;

/* An .npy arriving in pieces: header gathered, then data copied straight
 * into a tensor of the header's shape. */
typedef struct cv_npy_sink_s {
  size_t max_bytes;          /* max_tensor_bytes */
  char *hdr;
  size_t hdr_len, hdr_cap, hdr_need;   /* hdr_need 0 until the prefix is read */
  cv_npy_info_t info;
  cv_tensor_t *t;
  size_t got;
  cv_pool_t *pool;           /* large tensors from the engine's buffer pool (warm pages); NULL = malloc */
} cv_npy_sink_t;

int cv_npy_sink_feed(cv_npy_sink_t *s, const char *p, size_t n, cv_error_t *err);
/* The body ended: *out gets the tensor (a reference the caller owns). */
int cv_npy_sink_finish(cv_npy_sink_t *s, cv_tensor_t **out, cv_error_t *err);
void cv_npy_sink_free(cv_npy_sink_t *s);

#define CV_MP_MAX_PARTS 64

/* Multipart POST /v1/jobs: the spec part and one .npy part per input. */
typedef struct cv_mp_body_s {
  cv_multipart_t mp;
  cv_req_t *r;
  int cur;                          /* -1 none, -2 the spec part, else index into parts */
  int n_parts;
  char names[CV_MP_MAX_PARTS][CV_NAME_MAX];
  cv_tensor_t *tensors[CV_MP_MAX_PARTS];
  cv_npy_sink_t sink;               /* the part being read */
  bool have_spec;
} cv_mp_body_t;

typedef enum { CV_WAIT_NONE, CV_WAIT_WAITING, CV_WAIT_DONE, CV_WAIT_TIMEOUT } cv_wait_state_t;
typedef enum { CV_PHASE_NEW, CV_PHASE_BODY, CV_PHASE_SUSPENDED, CV_PHASE_ANSWERED } cv_phase_t;

struct cv_req_s {
  cv_server_t *srv;
  struct MHD_Connection *conn;
  const char *method, *url;
  unsigned mbit;
  cv_route_match_t m;
  char p_id[CV_STORE_ID_MAX + 8];      /* {id} */
  char p_name[CV_NAME_MAX + 8];        /* {name} (outputs, wavelets) */
  char rid[CV_REQUEST_ID_MAX + 1];
  int64_t t0_ns;
  uint64_t bytes_in, bytes_out, discarded;
  cv_phase_t phase;
  bool posting;                        /* counted in srv->posting */
  int pre_rc;                          /* an error found from the headers, answered once the request is in */

  /* body */
  cv_body_kind_t body;
  uint64_t body_max;
  cv_strbuf_t json;
  cv_npy_sink_t npy;
  cv_mp_body_t *mp;
  cv_spec_t *spec;                     /* POST /v1/jobs: allocated just before it is parsed */

  /* response */
  struct MHD_Response *resp;
  unsigned status;
  cv_error_t err;

  /* waiting for a job (sync submit or long poll); fields below under srv->mu */
  bool wait_result;                    /* sync submit: answer the result (else the job JSON) */
  cv_fmt_t fmt;                        /* chosen result format */
  bool b64;
  cv_job_t *job;                       /* a reference while waiting/answering */
  cv_wait_state_t wstate;
  bool suspended;
  int64_t deadline_ns;
  cv_req_t *wprev, *wnext;             /* srv->waiters */
  cv_req_t *jnext;                     /* jobctx->waiters */
  cv_req_t *rnext;                     /* resume list */
};

/* Handlers return 0 with r->resp set (or the request suspended), or
 * -CV_E… with r->err filled; the caller then answers with cv_reply_error. */
typedef int (*cv_handler_fn)(cv_req_t *r);

/* ---- the server ---- */

struct cv_server_s {
  cv_config_t cfg;                     /* loaded in main; reloadable values mirrored below */
  int argc;
  char **argv, **envp;
  cv_logger_t log;
  cv_engine_t engine;
  cv_store_t store;
  cv_metrics_t metrics;
  cv_auth_t auth;
  struct MHD_Daemon *mhd;
  int port;                            /* bound port */

  _Atomic int wait_s, ttl_s, max_batch;   /* reloadable (SIGHUP), mirrored for other threads */
  _Atomic int64_t max_batch_delay_us;
  cv_config_t live;                    /* loop thread: the config as last reloaded */
  atomic_bool ready, draining;
  atomic_int active_reqs;              /* requests with a context alive */
  atomic_int sinks_pending;
  atomic_int posting;                  /* POST /v1/jobs past the drain check, not yet submitted */

  /* disk sinks with chunks to write, woken from producer threads (sink.c) */
  uv_async_t sink_wake;
  cv_dsink_t *sink_head;               /* under mu */
  bool sink_wake_inited;               /* under mu */

  /* CPU utilisation between two /metrics renders */
  pthread_mutex_t util_mu;
  double util_cpu_s, util_wall_s, util_ratio;

  /* cached bodies of constant routes */
  char *ops_json, *wavelets_json;
  size_t ops_len, wavelets_len;

  /* loop thread */
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t wait_timer, sweep_timer, drain_timer;
  uv_signal_t sig_term, sig_int, sig_hup;
  bool loop_inited, drain_started;
  atomic_bool drain_expired;           /* drain_timeout_s passed: stop without waiting for uploads */
  atomic_bool stopping;                /* the drain finished: nothing waits any more */
  int64_t flush_left_ms;

  pthread_mutex_t mu;                  /* guards the lists below and every req wait field */
  cv_jobctx_t *done_head, *done_tail;  /* completions from engine threads (each holds a job ref) */
  cv_req_t *waiters;                   /* requests waiting with a deadline */
  bool timer_kick;                     /* a waiter's deadline is before the armed one */
  int64_t timer_due_ns;                /* 0 = not armed */
};

/* ---- http.c ---- */
int cv_http_start(cv_server_t *s, cv_error_t *err);
void cv_http_stop(cv_server_t *s);

/* ---- reply.c: every response is made here ---- */
/* The one writer of {"error":{…}}: status from the code, Retry-After on
 * 429/503, Allow on 405. msg/field may be NULL (default message, no field). */
int cv_reply_error(cv_req_t *r, int rc, const char *msg, const char *field);
/* Takes a malloc'd body (freed by MHD). */
int cv_reply_take(cv_req_t *r, unsigned status, const char *ctype, char *body, size_t len);
/* A body that outlives the response (constant tables). */
int cv_reply_static(cv_req_t *r, unsigned status, const char *ctype, const char *body, size_t len);
/* Takes the strbuf's text; a failed strbuf answers its error. */
int cv_reply_strbuf(cv_req_t *r, unsigned status, const char *ctype, cv_strbuf_t *sb);
int cv_reply_empty(cv_req_t *r, unsigned status);
void cv_reply_header(cv_req_t *r, const char *name, const char *value);
/* Job JSON without data; 202 adds Location and Retry-After. */
int cv_reply_job(cv_req_t *r, unsigned status, cv_job_t *j);
/* A finished, succeeded job's outputs in r->fmt (JSON: the job JSON with
 * data; NPZ: every selected output; NPY: the only one, else 406). */
int cv_reply_result(cv_req_t *r, cv_job_t *j, unsigned status);
/* One array as .npy; holds a reference to t while MHD sends it. */
int cv_reply_npy(cv_req_t *r, unsigned status, cv_tensor_t *t, const cv_array_t *a);
/* A tensor object {"dtype","shape","data"|"data_b64"}. */
int cv_reply_tensor_json(cv_req_t *r, unsigned status, const cv_array_t *a, bool b64);
/* The answer to a request whose job ended or whose wait ran out. */
int cv_reply_waited(cv_req_t *r);
/* Finishes a request: queues r->resp (adding X-Request-Id). */
enum MHD_Result cv_reply_queue(cv_req_t *r);

/* ---- body.c ---- */
/* Sets up the body consumer from Content-Type (415 otherwise). */
int cv_body_begin(cv_req_t *r);
int cv_body_feed(cv_req_t *r, const char *p, size_t n);
int cv_body_end(cv_req_t *r);
void cv_body_free(cv_req_t *r);
/* Allocates r->spec (uninitialised: the spec parsers clear it first). */
int cv_req_spec_alloc(cv_req_t *r);
/* The x-npy spec from the query string (x may be NULL: added later). */
int cv_query_spec(cv_req_t *r, cv_tensor_t *x);
/* ?encoding=json|b64 (default dflt) and ?wait_s=0…3600 (default dflt). */
int cv_query_encoding(cv_req_t *r, bool dflt, bool *b64);
int cv_query_wait(cv_req_t *r, int dflt, int *out);

/* ---- handlers ---- */
int cv_h_jobs_post(cv_req_t *r);
int cv_h_jobs_list(cv_req_t *r);
int cv_h_job_get(cv_req_t *r);
int cv_h_job_delete(cv_req_t *r);
int cv_h_job_result(cv_req_t *r);
int cv_h_job_output(cv_req_t *r);
int cv_h_tensors_post(cv_req_t *r);
int cv_h_tensor_get(cv_req_t *r);
int cv_h_tensor_delete(cv_req_t *r);
int cv_h_ops(cv_req_t *r);
int cv_h_wavelets(cv_req_t *r);
int cv_h_wavelet(cv_req_t *r);
int cv_h_info(cv_req_t *r);
int cv_h_healthz(cv_req_t *r);
int cv_h_readyz(cv_req_t *r);
int cv_h_metrics(cv_req_t *r);
int cv_h_openapi(cv_req_t *r);
/* The handler of (route, method); NULL → 405. */
cv_handler_fn cv_handler_for(cv_route_t route, unsigned mbit);

/* ---- loop.c ---- */
int cv_loop_init(cv_server_t *s, cv_error_t *err);
/* Runs the loop thread until a drain completes; then closes its handles. */
void cv_loop_run(cv_server_t *s);
/* The engine's done callback (any thread): queues the completion. */
void cv_server_job_done(cv_job_t *j, void *arg);
/* A job that ran inline (cv_engine_run_inline) on this MHD thread and has
 * no disk sink: its completion (keep, store, metrics) is processed here;
 * waiters from other requests, if any, are woken by the loop thread. */
void cv_server_finish_inline(cv_server_t *s, cv_job_t *j);
/* Registers r as a waiter on j (r->job set); returns true when the job had
 * already finished (no wait: answer now). Suspends r's connection otherwise. */
bool cv_wait_begin(cv_req_t *r, cv_job_t *j, int64_t wait_ms);
/* Starts the drain (signal or test). Loop thread. */
void cv_loop_drain(cv_server_t *s);
/* Accepted, unfinished jobs (queued, being batched, running). */
int cv_engine_unfinished(cv_engine_t *e);
/* A POST /v1/jobs counted in srv->posting submitted its job or failed. */
void cv_posting_done(cv_req_t *r);
/* Start-up failed: closes the loop's handles and the loop, quietly. */
void cv_loop_abort(cv_server_t *s);
/* After the loop ended: drops completions that arrived since (engine close). */
void cv_loop_discard_done(cv_server_t *s);

/* ---- sink.c (disk outputs) ----
 * Each output is written in chunks as it is produced, on the libuv thread
 * pool: producers report byte ranges (cv_sink_produced, any thread, e.g. a
 * slab executor's on_slab), the loop starts one writer at a time per job,
 * which writes what is ready straight from the output tensors (8 MiB per
 * write) and returns; the files are committed (fsync, rename, fsync of the
 * folder) once the job succeeded and every byte is out. */
/* Resolves the spec's output against data_dir/outputs into jc (400/409 now,
 * before the job runs) and sets up its writer state. */
int cv_sink_prepare(cv_server_t *s, const cv_spec_t *spec, cv_job_t *j, cv_jobctx_t *jc, cv_error_t *err);
/* Output out_index of jc's job holds bytes [byte_offset, byte_offset + nbytes)
 * of their final values in j->out_t[out_index] (which stays allocated until
 * the job ends). Ranges of one output must come in order; outputs may
 * interleave. Any thread (the job's worker). Not selected outputs are ignored. */
void cv_sink_produced(cv_jobctx_t *jc, int out_index, uint64_t byte_offset, uint64_t nbytes);
/* The same as an on_slab callback: ctx is the job's cv_jobctx_t (j->user). */
void cv_sink_on_slab(void *ctx, int out_index, uint64_t byte_offset, uint64_t nbytes);
/* Loop thread, once the job ended: succeeded → the rest of every output is
 * written, the files committed, then done(s, j) runs on the loop thread (the
 * job failed with jc->sink_err on error); failed or cancelled → temporary
 * files removed, then done. Returns 0 when done will be called (maybe
 * before this returns, when the writer had already failed), 1 when
 * there was nothing to do (done is not called), < 0 on error. */
int cv_sink_start(cv_server_t *s, cv_job_t *j, void (*done)(cv_server_t *, cv_job_t *));
/* Frees jc's writer state, removing any temporary file (jobctx free). */
void cv_sink_free(cv_jobctx_t *jc);
/* Loop thread: the wake-up producers use; init with the loop, close with it. */
void cv_sink_loop_init(cv_server_t *s);
void cv_sink_loop_close(cv_server_t *s);

/* ---- ops_json / openapi (h_meta.c) ---- */
extern const char cv_openapi_yaml[];
extern const size_t cv_openapi_yaml_len;

#endif
