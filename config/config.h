/* config.h — convoyd's option table (design.md §5), written once as
 * CV_CONFIG_MAP, and its loader: defaults < config file < CONVOY_* env < flags.
 * The map generates the cv_config_t fields, the option enum, the defaults,
 * parsing, validation, --help and the JSON view. Load once in main before any
 * thread starts; reload (SIGHUP) from one thread, which owns publishing. */
#ifndef CV_CONFIG_H
#define CV_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "../proto/errors.h"
#include "log.h"

#define CV_KIB 1024ull
#define CV_MIB (1024ull * CV_KIB)
#define CV_GIB (1024ull * CV_MIB)
#define CV_TIB (1024ull * CV_GIB)
#define CV_PIB (1024ull * CV_TIB)

/* XX(enum suffix, config name) */
#define CV_BACKEND_KIND_MAP(XX) \
  XX(AUTO, auto)                \
  XX(CPU, cpu)                  \
  XX(CUDA, cuda)

typedef enum {
#define XX(uc, lc) CV_BACKEND_KIND_##uc,
  CV_BACKEND_KIND_MAP(XX)
#undef XX
  CV_BACKEND_KIND_COUNT
} cv_backend_kind_t;

/* XX(UC, name, TYPE, arg, default, min, max, reload, check, help)
 *   TYPE STRING: char name[arg]; min..max bound the length in bytes; check is
 *               a format check (or NULL), static in config.c — other expansions
 *               of the map must ignore that column.
 *        ENUM:   cv_<arg>_t name; values from CV_<ARG>_MAP (case-insensitive).
 *        INT:    int name; SIZE: uint64_t name (bytes); BOOL: bool name.
 *   default is the text form, parsed like any other value; INT and SIZE
 *   defaults may be `cores` (CPUs this process may run on) or `ram/N` (the
 *   RAM, or the cgroup memory limit when smaller, divided by N), then clamped
 *   to min..max. reload: 1 when SIGHUP applies a new value. Rows are in
 *   design.md order, which is also the order of --help and GET /v1/info. */
#define CV_CONFIG_MAP(XX)                                                                           \
  XX(LISTEN, listen, STRING, 256, "127.0.0.1:8080", 1, 255, 0, check_listen,                       \
     "address to listen on, host:port or [v6addr]:port; port 0 picks a free one")                  \
  XX(DATA_DIR, data_dir, STRING, 4096, "var", 1, 4095, 0, NULL,                                     \
     "root of file: inputs and disk outputs; inputs/ and outputs/ are created when missing")       \
  XX(BACKEND, backend, ENUM, backend_kind, "auto", 0, 0, 0, NULL,                                   \
     "devices to run on: auto (CUDA when present, else CPU), cpu or cuda")                          \
  XX(DEVICES, devices, STRING, 256, "all", 1, 255, 0, check_devices,                                \
     "CUDA device ids to use, 'all' or a comma list such as 0,1")                                  \
  XX(THREADS, threads, INT, 0, "cores", 1, 1024, 0, NULL, "CPU worker threads")                     \
  XX(MAX_BODY_BYTES, max_body_bytes, SIZE, 0, "8GiB", 1, CV_PIB, 0, NULL,                           \
     "largest request body (streamed uploads)")                                                    \
  XX(MAX_JSON_BYTES, max_json_bytes, SIZE, 0, "16MiB", 1, 4 * CV_GIB, 0, NULL,                      \
     "largest JSON body (specs with inline data)")                                                 \
  XX(MAX_TENSOR_BYTES, max_tensor_bytes, SIZE, 0, "8GiB", 1, CV_PIB, 0, NULL,                       \
     "largest single tensor")                                                                      \
  XX(MAX_QUEUE_JOBS, max_queue_jobs, INT, 0, "1024", 1, 1048576, 0, NULL,                           \
     "accepted, unfinished jobs (queued + running) before 429 queue_full")                         \
  XX(MAX_INFLIGHT_BYTES, max_inflight_bytes, SIZE, 0, "ram/2", 1, CV_PIB, 0, NULL,                  \
     "inputs + outputs of accepted, unfinished jobs before 429 queue_full")                        \
  XX(MAX_BATCH, max_batch, INT, 0, "64", 1, 4096, 1, NULL, "jobs per backend call")                 \
  XX(MAX_BATCH_DELAY_US, max_batch_delay_us, INT, 0, "500", 0, 1000000, 1, NULL,                    \
     "how long a partial batch waits for more jobs, in microseconds")                              \
  XX(INLINE_MAX_BYTES, inline_max_bytes, SIZE, 0, "64KiB", 0, CV_GIB, 1, NULL,                      \
     "sync CPU jobs up to this many bytes (inputs + outputs) run on the HTTP thread, unqueued; 0 = never") \
  XX(WAIT_S, wait_s, INT, 0, "30", 0, 3600, 1, NULL,                                                \
     "how long a synchronous request waits before answering 202")                                  \
  XX(RESULT_TTL_S, result_ttl_s, INT, 0, "600", 1, 604800, 1, NULL,                                 \
     "seconds results and stored tensors live after their last use")                               \
  XX(RESULT_STORE_BYTES, result_store_bytes, SIZE, 0, "ram/4", 1, CV_PIB, 0, NULL,                  \
     "bytes of results + stored tensors kept")                                                     \
  XX(MAX_CONNECTIONS, max_connections, INT, 0, "1024", 1, 65536, 0, NULL,                           \
     "open HTTP connections")                                                                      \
  XX(CONNECTION_TIMEOUT_S, connection_timeout_s, INT, 0, "60", 1, 86400, 0, NULL,                   \
     "idle or slow connections are closed after this many seconds")                                \
  XX(API_KEYS_FILE, api_keys_file, STRING, 4096, "", 0, 4095, 1, NULL,                              \
     "file with one API key per line; empty = no auth; else every route but /healthz, /readyz, /metrics") \
  XX(LOG_FORMAT, log_format, ENUM, log_format, "text", 0, 0, 0, NULL,                               \
     "text, or json (one object per line)")                                                        \
  XX(LOG_LEVEL, log_level, ENUM, log_level, "info", 0, 0, 1, NULL, "error, warn, info or debug")    \
  XX(DRAIN_TIMEOUT_S, drain_timeout_s, INT, 0, "30", 0, 3600, 0, NULL,                              \
     "SIGTERM: seconds to finish in-flight jobs before cancelling them and exiting 0")             \
  XX(DEVICE_MEMORY_BUDGET, device_memory_budget, SIZE, 0, "0", 0, CV_PIB, 0, NULL,                  \
     "GPU memory one job may use; larger jobs run in slabs along their outermost axis; 0 = 85% of free memory")

typedef enum {
#define XX(uc, name, type, arg, def, min, max, reload, check, help) CV_CONFIG_##uc,
  CV_CONFIG_MAP(XX)
#undef XX
  CV_CONFIG_COUNT
} cv_config_opt_t;

#define CV_CONFIG_BIT(uc) (1u << CV_CONFIG_##uc)   /* masks of options: reload, to_json */
#define CV_CONFIG_ALL ((1u << CV_CONFIG_COUNT) - 1u)

#define CV_CONFIG_FIELD_STRING(name, arg) char name[arg];
#define CV_CONFIG_FIELD_ENUM(name, arg) cv_##arg##_t name;
#define CV_CONFIG_FIELD_INT(name, arg) int name;
#define CV_CONFIG_FIELD_SIZE(name, arg) uint64_t name;
#define CV_CONFIG_FIELD_BOOL(name, arg) bool name;

typedef struct cv_config_s {
#define XX(uc, name, type, arg, def, min, max, reload, check, help) CV_CONFIG_FIELD_##type(name, arg)
  CV_CONFIG_MAP(XX)
#undef XX
  char config_path[4096];   /* the config file that was read, "" when none */
} cv_config_t;

#define CV_CONFIG_DEFAULT_FILE "config/convoyd.json"   /* relative to the working dir */
#define CV_CONFIG_FILE_MAX (1024 * 1024)               /* a longer config file is refused */

/* ---- loading ---- */

/* Every option at its default, RAM- and core-derived ones probed now. */
void cv_config_defaults(cv_config_t *c);

/* Loads defaults, then the file (--config FILE, else CONVOY_CONFIG, else
 * config/convoyd.json when it exists), then CONVOY_<NAME> variables of envp
 * (others ignored), then argv[1..] (--name value, --name=value; dashes in
 * names). Returns 0; 1 when --help or --version was printed to help_out
 * (stdout when NULL) and the caller should exit 0; or -CV_EINVALID_ARGUMENT
 * with err->message one line naming source and option ("--max-batch: 0 is
 * below the minimum 1") and err->field the option name (or the unknown key,
 * flag or "config"). *c is complete only when 0 is returned. */
int cv_config_load(cv_config_t *c, int argc, char **argv, char **envp, FILE *help_out,
                   cv_error_t *err);

/* SIGHUP: loads file and env again (argv still wins) into a fresh struct and
 * copies the reloadable options into *c. Returns the mask (CV_CONFIG_BIT) of
 * reloadable options whose value changed, or a negative code with *c left
 * untouched. *needs_restart (may be NULL) gets the mask of changed options
 * that are not reloadable and were kept. The caller publishes the new values
 * to other threads (e.g. cv_log_set_level, its own locks). */
int cv_config_reload(cv_config_t *c, int argc, char **argv, char **envp, uint32_t *needs_restart,
                     cv_error_t *err);

/* The whole table: option, flag, env, type, default, range, reload, help. */
void cv_config_print_help(FILE *out);
const char *cv_config_version(void);   /* "0.1.0" */

/* ---- reading ---- */

const char *cv_config_name(cv_config_opt_t opt);   /* "max_batch"; NULL when out of range */
bool cv_config_reloadable(cv_config_opt_t opt);

/* A new JSON object (caller frees) with the options of `mask` in table order:
 * sizes and ints as numbers, enums and strings as strings. NULL when out of
 * memory. */
cJSON *cv_config_to_json(const cv_config_t *c, uint32_t mask);

/* ---- value helpers (the server and CLI parse these forms the same way) ---- */

/* "8GiB", "8 GiB", "512", "16MB": digits, optional space, optional unit;
 * B, KiB/MiB/GiB/TiB/PiB = powers of 1024, KB/MB/GB/TB/PB = powers of 1000
 * (case-insensitive). Bare K/M/G are refused as ambiguous. 0 or
 * -CV_EINVALID_ARGUMENT (also on overflow). */
int cv_config_parse_size(const char *s, uint64_t *out);
/* true/false, yes/no, on/off, 1/0 (case-insensitive). */
int cv_config_parse_bool(const char *s, bool *out);
/* Splits a valid listen value: host without brackets ("::1"), port 0..65535. */
int cv_config_split_listen(const char *listen, char host[256], int *port);
/* "all" → every bit; "0,2" → bits 0 and 2. Ids 0..63, no repeats. */
int cv_config_device_mask(const char *devices, uint64_t *mask);

/* ---- the machine ---- */

int cv_config_cores(void);   /* CPUs this process may run on (affinity), at least 1 */
/* Physical memory, or the cgroup v2 memory.max / v1 memory.limit_in_bytes
 * of this process (and its ancestors) when smaller. root prefixes /proc and
 * /sys ("" for the real ones; tests pass a fake tree). */
uint64_t cv_config_memory_bytes(const char *root);

#endif
