/* json_num.h — number printing and parsing for inline tensor `data`.
 * Printing writes the shortest decimal that reads back to the same value in
 * the tensor's own dtype (Ryu), -0 as "-0.0", integral floats with ".0", and
 * non-finite values as the quoted JSON strings of design.md. Parsing follows
 * the JSON number grammar and rounds correctly. Pure functions; any thread. */
#ifndef CV_JSON_NUM_H
#define CV_JSON_NUM_H

#include <stddef.h>
#include <stdint.h>

#define CV_FMT_NUM_MAX 32   /* bytes every cv_fmt_* buffer needs (NUL included) */

/* Each writes a JSON value into buf (>= CV_FMT_NUM_MAX bytes, NUL-terminated)
 * and returns its length. Finite floats become a JSON number: fixed notation
 * when the decimal exponent is in -4..15 ("0.1", "3.0", "-0.0",
 * "123456790.0"), else scientific ("1e-45", "3.4028235e38"); NaN, +inf and
 * -inf become "\"NaN\"", "\"Infinity\"", "\"-Infinity\"" (quotes included). */
int cv_fmt_f64(double v, char *buf);
int cv_fmt_f32(float v, char *buf);
int cv_fmt_f16(uint16_t bits, char *buf);    /* shortest that reads back to the same float16 */
int cv_fmt_bf16(uint16_t bits, char *buf);   /* same for bfloat16 */
int cv_fmt_i64(int64_t v, char *buf);
int cv_fmt_u64(uint64_t v, char *buf);

/* Parses one JSON number at p (no leading whitespace, no '+', no leading
 * zeros, digits required around '.', as RFC 8259) that must end before end.
 * Returns the first byte after it, or NULL when p does not start a valid
 * number. Correctly rounded (Clinger's exact fast path, else strtod on a
 * NUL-terminated copy; LC_NUMERIC must be "C", the default). Magnitudes past
 * DBL_MAX give ±inf, as Python's json does; tiny ones give ±0 or subnormals. */
const char *cv_parse_f64(const char *p, const char *end, double *out);

/* Rounds a double to float16 / bfloat16 bits once (to nearest, ties to even),
 * as NumPy converts Python floats; overflow gives ±inf, NaN stays NaN. */
uint16_t cv_f64_to_f16(double v);
uint16_t cv_f64_to_bf16(double v);

#endif
