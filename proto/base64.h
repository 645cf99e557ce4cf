/* base64.h — standard base64 (RFC 4648 §4 alphabet) for `data_b64` tensor
 * payloads: encoding with padding; decoding with or without padding that
 * rejects any other character (whitespace, URL-safe "-_", misplaced '=').
 * Pure functions; any thread. */
#ifndef CV_BASE64_H
#define CV_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Characters cv_b64_encode writes for n bytes (padded; no NUL). */
size_t cv_b64_encoded_len(size_t n);
/* Writes cv_b64_encoded_len(n) characters to dst. */
void cv_b64_encode(const void *src, size_t n, char *dst);

/* Bytes that the n characters at s decode to, checking only the length and
 * the padding layout (not the characters). false when no base64 text has
 * that form ("A", "AB=", "A===", "=" in the middle is found by decode). */
bool cv_b64_decoded_len(const char *s, size_t n, size_t *out);
/* The 1-based position of the first character that is neither in the
 * alphabet nor trailing padding, or 0 when there is none. */
size_t cv_b64_find_bad(const char *s, size_t n);
/* Decodes into dst (room for cv_b64_decoded_len bytes). Returns 0, or the
 * 1-based position of the first bad character (or n + 1 for a bad length). */
size_t cv_b64_decode(const char *s, size_t n, void *dst);

#endif
