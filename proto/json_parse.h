/* json_parse.h — a strict RFC 8259 JSON parser that builds cJSON trees in
 * place: strings are unescaped inside the caller's buffer and referenced, not
 * copied; nodes come from cJSON's constructors (so from the thread's JSON
 * arena while it is open, json_arena.h). The spec reader (spec.c) uses it for
 * request bodies. Pure function of its input; any thread. */
#ifndef CV_JSON_PARSE_H
#define CV_JSON_PARSE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Deepest nesting of arrays/objects accepted (cJSON's CJSON_NESTING_LIMIT). */
#define CV_JSON_DEPTH_MAX 1000

/* Parses buf[0..len): one JSON value with optional whitespace (space, tab,
 * CR, LF) around it, and an optional leading UTF-8 byte order mark. Returns
 * the root, or NULL with *err_off set to the byte offset of the first error
 * (unexpected byte, extra text after the value, or len for a truncated
 * document); err_off may be NULL. Strict: exact number grammar, the JSON
 * escapes only, no lone surrogates, no raw control bytes in strings,
 * well-formed UTF-8, depth <= CV_JSON_DEPTH_MAX.
 *
 * buf is rewritten (strings unescaped and NUL-terminated in place) and must
 * stay alive and unmodified while the tree is in use: string values are
 * cJSON_CreateStringReference nodes, object keys carry cJSON_StringIsConst,
 * so cJSON_Delete frees only the nodes. Numbers are correctly rounded
 * (json_num.h, bit-identical to strtod). A "\u0000" escape ends the C string
 * there, as with cJSON. */
cJSON *cv_json_parse_insitu(char *buf, size_t len, size_t *err_off);

#endif
