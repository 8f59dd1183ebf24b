/* redact.c: mask secret strings, in every form a reply may carry them,
 * before any text leaves the process.
 *
 * A text is searched as it is and through decodings of it (JSON escapes,
 * percent-encoding, form encoding, character references), each of those
 * also through base64 and through white-space folding.  Every byte of a
 * decoding remembers the span of the text it came from, so a secret found
 * in a decoding masks the text it was decoded from.
 */
#include "redact.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util.h"

/* A longer text is searched in windows of this size that overlap by more
 * than any encoded secret, so that the span maps stay small. */
#define WINDOW ((size_t)64 << 10)

/* A text being searched: its bytes and, for each byte, the span
 * [lo[i], hi[i]) of the window it was decoded from (lo NULL: the window
 * itself).  end is where the text ends in the window, and cut whether the
 * text was cut off there (the window ends where the whole text does). */
struct view {
	char *s;
	size_t len;
	uint32_t *lo, *hi;
	size_t end;
	bool cut;
};

/* A decoder: the bytes (at most 4) that s[i..) decodes to in out, and in
 * *used how many bytes of s they take (1 unless an escape starts at i). */
typedef size_t decode_fn(const char *s, size_t n, size_t i, char *out, size_t *used);

/* fold_char: white space and control bytes, which excerpts and error
 * messages fold into single spaces. */
static bool fold_char(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

/* utf8_put: cp as UTF-8 in out (U+FFFD for a surrogate); its length. */
static size_t utf8_put(long cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* hex_at: the value of the k hex digits at s[i..), or -1. */
static long hex_at(const char *s, size_t n, size_t i, size_t k)
{
	long v = 0;
	if (i + k > n)
		return -1;
	for (size_t j = 0; j < k; j++) {
		int d = util_hex_digit(s[i + j]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t copy_at(const char *s, size_t i, char *out, size_t *used)
{
	*out = s[i];
	*used = 1;
	return 1;
}

/* json_at: a JSON string escape (a surrogate pair as one character). */
static size_t json_at(const char *s, size_t n, size_t i, char *out, size_t *used)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	if (s[i] != '\\' || i + 1 >= n)
		return copy_at(s, i, out, used);
	const char *c = memchr(from, s[i + 1], sizeof(from) - 1);
	if (c) {
		*out = to[c - from];
		*used = 2;
		return 1;
	}
	long cp = s[i + 1] == 'u' ? hex_at(s, n, i + 2, 4) : -1;
	if (cp < 0)
		return copy_at(s, i, out, used);
	*used = 6;
	long low = i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex_at(s, n, i + 8, 4) : -1;
	if (cp >= 0xd800 && cp <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
		*used = 12;
	}
	return utf8_put(cp, out);
}

/* pct_at: a percent-encoded byte, either case. */
static size_t pct_at(const char *s, size_t n, size_t i, char *out, size_t *used)
{
	long v = s[i] == '%' ? hex_at(s, n, i + 1, 2) : -1;
	if (v < 0)
		return copy_at(s, i, out, used);
	*out = (char)v;
	*used = 3;
	return 1;
}

/* form_at: form encoding: percent-encoding with '+' for a space. */
static size_t form_at(const char *s, size_t n, size_t i, char *out, size_t *used)
{
	if (s[i] != '+')
		return pct_at(s, n, i, out, used);
	*out = ' ';
	*used = 1;
	return 1;
}

/* html_at: an XML or HTML character reference: &amp; &lt; &gt; &quot;
 * &apos;, or numeric (&#39; &#x27;). */
static size_t html_at(const char *s, size_t n, size_t i, char *out, size_t *used)
{
	static const char *const names[] = {"amp;&", "lt;<", "gt;>", "quot;\"", "apos;'"};
	if (s[i] != '&')
		return copy_at(s, i, out, used);
	for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
		size_t len = strlen(names[k]) - 1;
		if (i + 1 + len <= n && memcmp(s + i + 1, names[k], len) == 0) {
			*out = names[k][len];
			*used = 1 + len;
			return 1;
		}
	}
	bool hex = i + 2 < n && s[i + 1] == '#' && (s[i + 2] | 0x20) == 'x';
	size_t j = i + (hex ? 3 : 2);
	long cp = 0;
	if (i + 1 >= n || s[i + 1] != '#')
		return copy_at(s, i, out, used);
	for (; j < n && j < i + 12 && cp <= 0x10ffff; j++) {
		int d = util_hex_digit(s[j]);
		if (d < 0 || (!hex && d > 9))
			break;
		cp = cp * (hex ? 16 : 10) + d;
	}
	if (j == i + (hex ? 3 : 2) || j >= n || s[j] != ';' || cp > 0x10ffff)
		return copy_at(s, i, out, used);
	*used = j + 1 - i;
	return utf8_put(cp, out);
}

/* fold_at: a run of white space and control bytes as one space. */
static size_t fold_at(const char *s, size_t n, size_t i, char *out, size_t *used)
{
	size_t j = i;
	while (j < n && fold_char((unsigned char)s[j]))
		j++;
	if (j == i)
		return copy_at(s, i, out, used);
	*out = ' ';
	*used = j - i;
	return 1;
}

/* Where byte i of v starts and ends in the window. */
static size_t lo_of(const struct view *v, size_t i)
{
	return v->lo ? v->lo[i] : i;
}

static size_t hi_of(const struct view *v, size_t i)
{
	return v->lo ? v->hi[i] : i + 1;
}

/* view_alloc: room for n bytes with their spans. */
static void view_alloc(struct view *v, size_t n)
{
	v->s = xmalloc(n + 1);
	v->lo = xcalloc(n + 1, sizeof(*v->lo));
	v->hi = xcalloc(n + 1, sizeof(*v->hi));
	v->len = 0;
}

static void view_push(struct view *v, char c, size_t lo, size_t hi)
{
	v->s[v->len] = c;
	v->lo[v->len] = (uint32_t)lo;
	v->hi[v->len] = (uint32_t)hi;
	v->len++;
}

static void view_release(struct view *v)
{
	free(v->s);
	free(v->lo);
	free(v->hi);
}

/* decode: v decoded by fn into out (no decoder makes a text longer). */
static void decode(const struct view *v, decode_fn *fn, struct view *out)
{
	char bytes[4];
	view_alloc(out, v->len);
	out->end = v->end;
	out->cut = v->cut;
	for (size_t i = 0; i < v->len;) {
		size_t used = 1, k = fn(v->s, v->len, i, bytes, &used);
		for (size_t j = 0; j < k; j++)
			view_push(out, bytes[j], lo_of(v, i), hi_of(v, i + used - 1));
		i += used;
	}
}

/* Bytes of an escape a cut may leave half written after the start of a
 * secret ("\ud83d\ude0", "&#12", "%F"). */
#define CUT_SLACK 12

/* half_escape: whether v's bytes [from, to) can be an escape a cut left
 * half written: none, or fewer than CUT_SLACK bytes without white space
 * that start like an escape, or with the U+FFFD a lone surrogate became. */
static bool half_escape(const struct view *v, size_t from, size_t to)
{
	if (from == to)
		return true;
	if (to - from >= CUT_SLACK ||
	    !(memchr("\\%&", v->s[from], 3) ||
	      (to - from >= 3 && memcmp(v->s + from, "\xef\xbf\xbd", 3) == 0)))
		return false;
	for (size_t i = from; i < to; i++)
		if (fold_char((unsigned char)v->s[i]))
			return false;
	return true;
}

/* cut_at: whether v was cut at byte e: its end when cut, "..." or "\u2026". */
static bool cut_at(const struct view *v, size_t e)
{
	if (e == v->len)
		return v->cut;
	return e + 3 <= v->len &&
	       (memcmp(v->s + e, "...", 3) == 0 || memcmp(v->s + e, "\xe2\x80\xa6", 3) == 0);
}

/* hide_cuts: wherever v was cut, the longest start (REDACT_MIN_LEN bytes
 * or more) of needle that ends there, or before a half-written escape
 * there; at v's end the mask reaches to where v ends in the window (an
 * encoding's last, partial character).  Knuth-Morris-Pratt (next is the
 * needle's table) over the bytes before each cut, each byte read at most
 * once: after a byte, the state is the longest start of needle the text so
 * far ends with, which depends on the last k bytes only. */
static void hide_cuts(const struct view *v, const char *needle, size_t k, const size_t *next,
		      unsigned char *hidden)
{
	size_t ends[CUT_SLACK] = {0}, m = 0, pos = 0, last = 0;
	for (size_t e = REDACT_MIN_LEN; e <= v->len; e++) {
		if ((e < v->len && v->s[e] != '.' && v->s[e] != '\xe2') || !cut_at(v, e))
			continue;
		if (e > pos + k + CUT_SLACK) {
			pos = e - k - CUT_SLACK;
			m = 0;
		}
		for (; pos < e; pos++) {
			while (m && (m == k || v->s[pos] != needle[m]))
				m = next[m - 1];
			m += m < k && v->s[pos] == needle[m];
			ends[(pos + 1) % CUT_SLACK] = m;
			if (m >= REDACT_MIN_LEN)
				last = pos + 1;
		}
		for (size_t end = e; last + CUT_SLACK > e && end + CUT_SLACK > e && end; end--) {
			size_t start = ends[end % CUT_SLACK];
			if (start >= REDACT_MIN_LEN && half_escape(v, end, e)) {
				size_t a = lo_of(v, end - start), b = e == v->len ? v->end : hi_of(v, e - 1);
				memset(hidden + a, 1, b - a);
				break;
			}
		}
	}
}

/* search: hide every occurrence in v of each secret (or of its folded
 * form), and the start of one cut off wherever v was cut. */
static void search(const struct redact *r, const struct view *v, bool folded,
		   unsigned char *hidden)
{
	char *const *needles = folded ? r->folded : r->secrets;
	for (size_t i = 0; i < r->n; i++) {
		size_t k = needles[i] ? strlen(needles[i]) : 0;
		for (char *p = v->s; k && (p = memmem(p, v->len - (size_t)(p - v->s), needles[i], k));
		     p++) {
			size_t a = lo_of(v, (size_t)(p - v->s)), b = hi_of(v, (size_t)(p - v->s) + k - 1);
			memset(hidden + a, 1, b - a);
		}
		if (k)
			hide_cuts(v, needles[i], k, r->next[2 * i + folded], hidden);
	}
}

/* b64_value: a base64 or base64url digit's value, or -1. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* search_base64: decode each run of base64 digits of v from each of its
 * first four digits (a value inside a longer encoding starts at any of
 * them) and search the bytes. */
static void search_base64(const struct redact *r, const struct view *v, unsigned char *hidden)
{
	for (size_t i = 0, j; i < v->len; i = j + 1) {
		for (j = i; j < v->len && b64_value((unsigned char)v->s[j]) >= 0;)
			j++;
		size_t pad = j;
		while (pad < v->len && v->s[pad] == '=')
			pad++;
		/* Fewer than six digits decode to fewer bytes than a secret. */
		if (j - i < 6)
			continue;
		for (size_t from = i; from < i + 4; from++) {
			struct view seg;
			view_alloc(&seg, (j - from) / 4 * 3 + 3);
			/* Digits cut off, not ended: the view was cut right
			 * after them (and their padding). */
			seg.end = hi_of(v, j - 1);
			seg.cut = cut_at(v, pad);
			uint32_t acc = 0;
			for (size_t d = from; d < j; d++) {
				acc = acc << 6 | (uint32_t)b64_value((unsigned char)v->s[d]);
				/* Digits 2, 3 and 4 of a group complete a byte,
				 * which the digit before them started. */
				size_t at = (d - from) % 4;
				if (at > 0)
					view_push(&seg, (char)(acc >> (2 * (3 - at)) & 0xff),
						  lo_of(v, d - 1), hi_of(v, d));
			}
			search(r, &seg, false, hidden);
			view_release(&seg);
		}
		/* The padding of a masked encoding goes with it. */
		for (size_t k = j; k < pad && hidden[hi_of(v, j - 1) - 1]; k++)
			memset(hidden + lo_of(v, k), 1, hi_of(v, k) - lo_of(v, k));
	}
}

/* folds: whether folding changes v (it holds a control byte or two white
 * space bytes in a row). */
static bool folds(const struct view *v)
{
	for (size_t i = 0; i < v->len; i++)
		if ((fold_char((unsigned char)v->s[i]) && v->s[i] != ' ') ||
		    (v->s[i] == ' ' && i + 1 < v->len && fold_char((unsigned char)v->s[i + 1])))
			return true;
	return false;
}

/* scan: mark in hidden every byte of s[0..n) that belongs to a secret in
 * any form; cut: s was cut off at its end. */
static void scan(const struct redact *r, const char *s, size_t n, bool cut, unsigned char *hidden)
{
	static decode_fn *const decoders[] = {NULL, json_at, pct_at, form_at, html_at};
	static const char trigger[] = {'\0', '\\', '%', '+', '&'};
	bool any_folded = false;
	for (size_t i = 0; i < r->n; i++)
		any_folded = any_folded || r->folded[i];
	struct view text = {.s = (char *)s, .len = n, .end = n, .cut = cut};
	for (size_t d = 0; d < ARRAY_SIZE(decoders); d++) {
		struct view v = text;
		if (decoders[d] && !memchr(s, trigger[d], n))
			continue;
		if (decoders[d])
			decode(&text, decoders[d], &v);
		search(r, &v, false, hidden);
		search_base64(r, &v, hidden);
		if (any_folded && folds(&v)) {
			struct view f;
			decode(&v, fold_at, &f);
			search(r, &f, true, hidden);
			view_release(&f);
		} else if (any_folded) {
			search(r, &v, true, hidden);
		}
		if (decoders[d])
			view_release(&v);
	}
}

char *redact_span(const struct redact *r, const char *s, size_t len, size_t from, size_t to,
		  size_t *out_len)
{
	/* No encoding above takes more than six bytes per byte; the span maps
	 * of a window hold 32-bit offsets. */
	size_t reach = r ? 8 * r->longest + 64 : 0;
	size_t a = from > reach ? from - reach : 0, b = len - to > reach ? to + reach : len;
	unsigned char *hidden = xcalloc(b - a + 1, 1);
	for (size_t w = a; r && r->n && w < b; w += WINDOW) {
		size_t e = b - w > WINDOW + reach ? w + WINDOW + reach : b;
		scan(r, s + w, e - w, e == len, hidden + (w - a));
		if (e == b)
			break;
	}
	struct buf out;
	buf_init(&out, SIZE_MAX);
	for (size_t i = from, j; i < to; i = j) {
		bool masked = hidden[i - a];
		for (j = i; j < to && hidden[j - a] == masked;)
			j++;
		if (masked)
			buf_addstr(&out, REDACT_MASK);
		else
			buf_add(&out, s + i, j - i);
	}
	free(hidden);
	return buf_detach(&out, out_len);
}

char *redact_apply(const struct redact *r, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s);
	return redact_span(r, s, n, 0, n, NULL);
}

/* folded: secret as an excerpt or an error message folds it: each run of
 * white space and control bytes one space, none at either end; NULL when
 * it has none, or when too little is left. */
static char *folded(const char *secret)
{
	size_t n = strlen(secret), k = 0;
	char *out = xmalloc(n + 1);
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		bool fold = fold_char((unsigned char)secret[i]);
		any = any || fold;
		if (!fold)
			out[k++] = secret[i];
		else if (k && i + 1 < n && !fold_char((unsigned char)secret[i + 1]))
			out[k++] = ' ';
	}
	out[k] = '\0';
	if (!any || k < REDACT_MIN_LEN) {
		free(out);
		return NULL;
	}
	return out;
}

/* kmp_table: next[i], the longest proper start of s that s[0..i] ends
 * with; NULL for NULL. */
static size_t *kmp_table(const char *s)
{
	if (!s)
		return NULL;
	size_t k = strlen(s), *next = xcalloc(k, sizeof(*next));
	for (size_t i = 1, j = 0; i < k; i++) {
		while (j && s[i] != s[j])
			j = next[j - 1];
		j += s[i] == s[j];
		next[i] = j;
	}
	return next;
}

void redact_add(struct redact *r, const char *secret)
{
	if (!secret || strlen(secret) < REDACT_MIN_LEN)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->secrets[i], secret) == 0)
			return;
	r->secrets = xreallocarray(r->secrets, r->n + 1, sizeof(*r->secrets));
	r->folded = xreallocarray(r->folded, r->n + 1, sizeof(*r->folded));
	r->next = xreallocarray(r->next, 2 * (r->n + 1), sizeof(*r->next));
	r->secrets[r->n] = xstrdup(secret);
	r->folded[r->n] = folded(secret);
	r->next[2 * r->n] = kmp_table(r->secrets[r->n]);
	r->next[2 * r->n + 1] = kmp_table(r->folded[r->n]);
	r->n++;
	if (strlen(secret) > r->longest)
		r->longest = strlen(secret);
}

/* url_part: a part of u percent-decoded as libcurl sends it (control
 * characters included, which CURLU_URLDECODE refuses), or NULL. */
static char *url_part(CURLU *u, CURLUPart what)
{
	char *part = NULL, *out = NULL;
	if (curl_url_get(u, what, &part, 0) == CURLUE_OK && part)
		out = util_pct_decode(part, strlen(part));
	curl_free(part);
	return out;
}

void redact_add_url(struct redact *r, const char *url)
{
	CURLU *u = curl_url();
	char *user = NULL, *password = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
		user = url_part(u, CURLUPART_USER);
		password = url_part(u, CURLUPART_PASSWORD);
	}
	if (password) {
		char *both = xasprintf("%s:%s", user ? user : "", password);
		redact_add(r, password);
		redact_add(r, both);
		free(both);
	} else {
		redact_add(r, user);
	}
	free(user);
	free(password);
	curl_url_cleanup(u);
}

void redact_release(struct redact *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->secrets[i]);
		free(r->folded[i]);
		free(r->next[2 * i]);
		free(r->next[2 * i + 1]);
	}
	free(r->secrets);
	free(r->folded);
	free(r->next);
	memset(r, 0, sizeof(*r));
}
