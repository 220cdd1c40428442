/* INCRBYFLOAT's arithmetic in C's long double, as Redis does it: the
 * operands are read with strtold, added in long double (80-bit on x86-64)
 * and printed with "%.17Lf" without trailing zeros. Rust has no long double,
 * and the digits Redis prints depend on it (INCRBYFLOAT x 1000.1 answers
 * "1000.09999999999999998"), so this small part is C. */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text accepted as a number, and room for any printed result. */
#define LD_CHARS (5 * 1024)

/* Reads s[0..len) as Redis's string2ld does; 1 on success. */
static int read_ld(const char *s, size_t len, long double *out) {
    char buf[LD_CHARS];
    char *end;
    long double value;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != len ||
        (errno == ERANGE &&
         (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        isnan(value))
        return 0;
    *out = value;
    return 1;
}

int shardcask_ld_valid(const char *s, size_t len) {
    long double value;
    return read_ld(s, len, &value);
}

/* old (NULL: absent, counts as 0) + incr, printed into out.
 * Returns the length, or -1 old is not a float, -2 incr is not a float,
 * -3 the sum is NaN or infinite, -4 out is too small. */
long shardcask_ld_incr(const char *old, size_t old_len, const char *incr, size_t incr_len,
                       char *out, size_t out_len) {
    long double value = 0, delta;
    int len;
    if (old != NULL && !read_ld(old, old_len, &value)) return -1;
    if (!read_ld(incr, incr_len, &delta)) return -2;
    value += delta;
    if (isnan(value) || isinf(value)) return -3;
    len = snprintf(out, out_len, "%.17Lf", value);
    if (len < 0 || (size_t)len + 1 > out_len) return -4;
    if (strchr(out, '.') != NULL) {
        while (out[len - 1] == '0') len--;
        if (out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    return len;
}
