/* fingerprint/jcs.c: RFC 8785 canonical JSON from a cJSON tree. */
#include "fingerprint/jcs.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The most significant digits a double ever needs to read back. */
#define MAX_DIGITS 17

struct jcs {
	struct buf out;
	char *err;
};

/* The code point of the UTF-8 sequence at s, its length in *len; -1 for
 * anything RFC 3629 forbids (overlong forms, surrogates, past U+10FFFF). */
static long utf8_next(const unsigned char *s, int *len)
{
	unsigned c = s[0];
	long cp, min;
	int n;
	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1; /* also stops at the NUL */
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = n;
	return cp;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int len;
	while (*p) {
		if (utf8_next(p, &len) < 0)
			return false;
		p += len;
	}
	return true;
}

/* The first UTF-16 code unit of cp. */
static long utf16_lead(long cp)
{
	return cp < 0x10000 ? cp : 0xd800 + ((cp - 0x10000) >> 10);
}

/* Compare two valid UTF-8 strings by their UTF-16 code units (RFC 8785
 * section 3.2.3): only a supplementary character against a BMP character
 * above the surrogates orders differently from code points. */
static int utf16_cmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	while (*p && *q) {
		int lp, lq;
		long cp = utf8_next(p, &lp), cq = utf8_next(q, &lq);
		if (cp != cq) {
			long up = utf16_lead(cp), uq = utf16_lead(cq);
			if (up != uq)
				return up < uq ? -1 : 1;
			return cp < cq ? -1 : 1;
		}
		p += lp;
		q += lq;
	}
	return (*p != 0) - (*q != 0);
}

/* Parse "%e" output into its digits (no point, no sign) and exponent. */
static void split_e(const char *s, char *digits, int *ndigits, int *exp10)
{
	int n = 0;
	for (; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9')
			digits[n++] = *s;
	*ndigits = n;
	*exp10 = *s == 'e' ? atoi(s + 1) : 0;
}

/* Whether the digits d[0..n) times 10^(exp10 - n + 1) read back as x. */
static bool reads_back(const char *d, int n, int exp10, double x)
{
	char s[MAX_DIGITS + 16];
	snprintf(s, sizeof(s), "%c.%.*se%d", d[0], n - 1, d + 1, exp10);
	return strtod(s, NULL) == x;
}

/* The n-digit neighbour of d[0..n) one unit in the last place up (dir 1)
 * or down (dir -1), into out; false when it would be zero. */
static bool neighbour(const char *d, int n, int exp10, int dir, char *out, int *oexp)
{
	memcpy(out, d, (size_t)n);
	*oexp = exp10;
	int i = n - 1;
	if (dir > 0) {
		while (i >= 0 && out[i] == '9')
			out[i--] = '0';
		if (i >= 0) {
			out[i]++;
		} else {
			out[0] = '1';
			(*oexp)++;
		}
		return true;
	}
	while (i >= 0 && out[i] == '0')
		out[i--] = '9';
	if (i < 0)
		return false;
	out[i]--;
	if (out[0] != '0')
		return true;
	/* 1000 - 1 = 0999: one decade lower, keep n digits. */
	memmove(out, out + 1, (size_t)n - 1);
	out[n - 1] = '0';
	(*oexp)--;
	for (i = 0; i < n; i++)
		if (out[i] != '0')
			return true;
	return false;
}

/* The shortest digits d[0..*k) with x = 0.d * 10^*n that read back as the
 * finite x > 0, the one closest to x when several are that short. */
static void shortest(double x, char *d, int *k, int *n)
{
	char s[64], alt[MAX_DIGITS + 1];
	int nd = 0, e = 0, ae;
	for (int prec = 0; prec < MAX_DIGITS; prec++) {
		snprintf(s, sizeof(s), "%.*e", prec, x);
		split_e(s, d, &nd, &e);
		if (strtod(s, NULL) == x)
			goto found;
		/* The correctly rounded candidate is the closest one, but at a
		 * power of two the gap below is half the gap above, so the
		 * next candidate on the far side may read back when it fails. */
		for (int dir = 1; dir >= -1; dir -= 2) {
			if (neighbour(d, nd, e, dir, alt, &ae) && reads_back(alt, nd, ae, x)) {
				memcpy(d, alt, (size_t)nd);
				e = ae;
				goto found;
			}
		}
	}
	/* Unreachable: seventeen digits always read back. */
found:
	while (nd > 1 && d[nd - 1] == '0')
		nd--;
	*k = nd;
	*n = e + 1;
}

int jcs_number(double v, char out[JCS_NUMBER_MAX])
{
	if (!isfinite(v))
		return -1;
	if (v == 0) {
		strcpy(out, "0");
		return 0;
	}
	char d[MAX_DIGITS + 1];
	int k, n;
	shortest(fabs(v), d, &k, &n);
	char *o = out;
	if (v < 0)
		*o++ = '-';
	if (k <= n && n <= 21) {
		memcpy(o, d, (size_t)k);
		memset(o + k, '0', (size_t)(n - k));
		o[n] = '\0';
	} else if (n > 0 && n <= 21) {
		memcpy(o, d, (size_t)n);
		o[n] = '.';
		memcpy(o + n + 1, d + n, (size_t)(k - n));
		o[k + 1] = '\0';
	} else if (n > -6 && n <= 0) {
		memcpy(o, "0.", 2);
		memset(o + 2, '0', (size_t)-n);
		memcpy(o + 2 - n, d, (size_t)k);
		o[2 - n + k] = '\0';
	} else {
		int e = n - 1;
		*o++ = d[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, d + 1, (size_t)(k - 1));
			o += k - 1;
		}
		*o++ = 'e';
		*o++ = e < 0 ? '-' : '+';
		e = abs(e);
		if (e >= 100)
			*o++ = (char)('0' + e / 100);
		if (e >= 10)
			*o++ = (char)('0' + e / 10 % 10);
		*o++ = (char)('0' + e % 10);
		*o = '\0';
	}
	return 0;
}

static int emit(struct jcs *j, const void *p, size_t n)
{
	if (buf_add(&j->out, p, n) == 0)
		return 0;
	if (!j->err)
		j->err = xasprintf("canonical form is larger than %zu bytes", j->out.max);
	return -1;
}

static int emit_str(struct jcs *j, const char *s)
{
	return emit(j, s, strlen(s));
}

/* Write s as a JSON string with only the escapes RFC 8785 requires. */
static int emit_string(struct jcs *j, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run = p;
	if (emit(j, "\"", 1) < 0)
		return -1;
	while (*p) {
		unsigned c = *p;
		const char *esc = NULL;
		char u[7];
		int len = 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				memcpy(u, "\\u00", 4);
				u[4] = hex[c >> 4];
				u[5] = hex[c & 15];
				u[6] = '\0';
				esc = u;
			} else if (c >= 0x80 && utf8_next(p, &len) < 0) {
				j->err = xstrdup("string is not valid utf-8");
				return -1;
			}
		}
		if (!esc) {
			p += len;
			continue;
		}
		if (emit(j, run, (size_t)(p - run)) < 0 || emit_str(j, esc) < 0)
			return -1;
		run = ++p;
	}
	if (emit(j, run, (size_t)(p - run)) < 0)
		return -1;
	return emit(j, "\"", 1);
}

static int member_cmp(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
	return utf16_cmp(a->string, b->string);
}

static int emit_value(struct jcs *j, const cJSON *v, int depth);

static int emit_object(struct jcs *j, const cJSON *v, int depth)
{
	size_t n = 0, i = 0;
	const cJSON *c;
	int rc = -1;
	cJSON_ArrayForEach(c, v)
		n++;
	const cJSON **m = xmalloc((n ? n : 1) * sizeof(*m));
	cJSON_ArrayForEach(c, v) {
		if (!c->string) {
			j->err = xstrdup("object member has no name");
			goto out;
		}
		if (!utf8_valid(c->string)) {
			j->err = xstrdup("member name is not valid utf-8");
			goto out;
		}
		m[i++] = c;
	}
	qsort(m, n, sizeof(*m), member_cmp);
	if (emit(j, "{", 1) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(m[i - 1]->string, m[i]->string) == 0) {
			j->err = xasprintf("duplicate member name '%.64s'", m[i]->string);
			goto out;
		}
		if ((i > 0 && emit(j, ",", 1) < 0) || emit_string(j, m[i]->string) < 0 ||
		    emit(j, ":", 1) < 0 || emit_value(j, m[i], depth + 1) < 0)
			goto out;
	}
	rc = emit(j, "}", 1);
out:
	free(m);
	return rc;
}

static int emit_value(struct jcs *j, const cJSON *v, int depth)
{
	char num[JCS_NUMBER_MAX];
	if (depth > JCS_MAX_DEPTH) {
		j->err = xasprintf("nested deeper than %d levels", JCS_MAX_DEPTH);
		return -1;
	}
	if (cJSON_IsNull(v))
		return emit_str(j, "null");
	if (cJSON_IsTrue(v))
		return emit_str(j, "true");
	if (cJSON_IsFalse(v))
		return emit_str(j, "false");
	if (cJSON_IsNumber(v)) {
		if (jcs_number(v->valuedouble, num) < 0) {
			j->err = xstrdup("NaN and Infinity are not JSON numbers");
			return -1;
		}
		return emit_str(j, num);
	}
	if (cJSON_IsString(v)) {
		if (!v->valuestring) {
			j->err = xstrdup("string item has no value");
			return -1;
		}
		return emit_string(j, v->valuestring);
	}
	if (cJSON_IsArray(v)) {
		const cJSON *c;
		bool first = true;
		if (emit(j, "[", 1) < 0)
			return -1;
		cJSON_ArrayForEach(c, v) {
			if ((!first && emit(j, ",", 1) < 0) || emit_value(j, c, depth + 1) < 0)
				return -1;
			first = false;
		}
		return emit(j, "]", 1);
	}
	if (cJSON_IsObject(v))
		return emit_object(j, v, depth);
	j->err = xstrdup(cJSON_IsRaw(v) ? "raw json item cannot be canonicalised"
					 : "invalid json item");
	return -1;
}

char *jcs_canonicalize(const cJSON *v, char **err)
{
	struct jcs j = {.err = NULL};
	buf_init(&j.out, BUF_MAX_DEFAULT);
	if (!v) {
		*err = xstrdup("no json value");
		return NULL;
	}
	if (emit_value(&j, v, 0) < 0) {
		*err = j.err;
		buf_release(&j.out);
		return NULL;
	}
	return buf_detach(&j.out, NULL);
}
