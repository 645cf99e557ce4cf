/* multipart.h — a streaming multipart/form-data parser (RFC 7578/2046):
 * bodies arrive in chunks of any size; part data is handed to callbacks as it
 * arrives, never buffered whole (only part headers, up to CV_MP_HEADER_MAX,
 * and at most one delimiter's worth of held-back bytes). One parser per
 * request; the MHD thread of that request calls it. */
#ifndef CV_MULTIPART_H
#define CV_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "../proto/errors.h"

#define CV_MP_BOUNDARY_MAX 70     /* RFC 2046 */
#define CV_MP_HEADER_MAX 8192     /* bytes of one part's header block */
#define CV_MP_NAME_MAX 128

typedef struct cv_mp_part_s {
  char name[CV_MP_NAME_MAX];       /* Content-Disposition name (required) */
  char filename[CV_MP_NAME_MAX];   /* "" when absent */
  char content_type[CV_MP_NAME_MAX];
} cv_mp_part_t;

/* Callbacks return 0 or -CV_E… (with err set); an error stops the parser. */
typedef struct cv_mp_handler_s {
  int (*begin)(void *u, const cv_mp_part_t *part, cv_error_t *err);
  int (*data)(void *u, const char *p, size_t n, cv_error_t *err);
  int (*end)(void *u, cv_error_t *err);
} cv_mp_handler_t;

typedef struct cv_multipart_s {
  int state;
  char delim[CV_MP_BOUNDARY_MAX + 5];   /* "\r\n--" + boundary */
  size_t dlen;
  char tail[CV_MP_BOUNDARY_MAX + 5];    /* held-back bytes: a proper prefix of delim */
  size_t tail_len;
  char hdr[CV_MP_HEADER_MAX];
  size_t hdr_len;
  int parts;
  bool in_part;
  const cv_mp_handler_t *h;
  void *u;
} cv_multipart_t;

/* Takes the boundary from a Content-Type value ("multipart/form-data;
 * boundary=…", quoted or not). Errors: -CV_EINVALID_ARGUMENT. */
int cv_multipart_init(cv_multipart_t *m, const char *content_type, const cv_mp_handler_t *h, void *u,
                      cv_error_t *err);
/* Feeds the next n body bytes. */
int cv_multipart_feed(cv_multipart_t *m, const char *p, size_t n, cv_error_t *err);
/* The body ended: fails unless the closing boundary was seen. */
int cv_multipart_finish(cv_multipart_t *m, cv_error_t *err);

#endif
