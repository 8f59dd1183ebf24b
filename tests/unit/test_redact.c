/* test_redact.c: secrets masked in every form a server may echo them in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redact.h"
#include "util.h"

/* masked: redact_apply() of text, checked to hold none of the strings in
 * gone (NULL-terminated) and to hold each of kept. */
static void expect(const struct redact *r, const char *text, const char *const *gone,
		   const char *const *kept)
{
	char *s = redact_apply(r, text);
	for (size_t i = 0; gone && gone[i]; i++) {
		if (strstr(s, gone[i]))
			fail_msg("'%s' shows in '%s' (from '%s')", gone[i], s, text);
	}
	for (size_t i = 0; kept && kept[i]; i++) {
		if (!strstr(s, kept[i]))
			fail_msg("'%s' is lost from '%s' (from '%s')", kept[i], s, text);
	}
	free(s);
}

static void test_basics(void **state)
{
	(void)state;
	struct redact r = {0};
	assert_null(redact_apply(&r, NULL));
	char *s = redact_apply(&r, "nothing to hide");
	assert_string_equal(s, "nothing to hide");
	free(s);

	redact_add(&r, NULL);
	redact_add(&r, "abc"); /* shorter than REDACT_MIN_LEN */
	assert_int_equal(r.n, 0);
	redact_add(&r, "abcd");
	redact_add(&r, "abcdefgh");
	redact_add(&r, "abcd");
	redact_add(&r, "xyz-123");
	assert_int_equal(r.n, 3);

	s = redact_apply(&r, "k=abcdefgh, j=abcd, x=xyz-123!");
	assert_string_equal(s, "k=" REDACT_MASK ", j=" REDACT_MASK ", x=" REDACT_MASK "!");
	free(s);
	s = redact_apply(&r, "abcdabcd");
	assert_string_equal(s, REDACT_MASK);
	free(s);
	s = redact_apply(&r, "abc ab cd");
	assert_string_equal(s, "abc ab cd");
	free(s);
	redact_release(&r);
	assert_int_equal(r.n, 0);

	/* Overlapping secrets leave no part of either visible. */
	redact_add(&r, "secret-one");
	redact_add(&r, "one-two-three");
	s = redact_apply(&r, "[secret-one-two-three]");
	assert_string_equal(s, "[" REDACT_MASK "]");
	free(s);
	/* A partial secret in mid-text is not one... */
	s = redact_apply(&r, "one-two-thre secret-on ok");
	assert_string_equal(s, "one-two-thre secret-on ok");
	free(s);
	/* ...but the start of one cut off at an excerpt's end is. */
	s = redact_apply(&r, "one-two-thre secret-on");
	assert_string_equal(s, "one-two-thre " REDACT_MASK);
	free(s);
	s = redact_apply(&r, "in \"key one-two-t...\" here");
	assert_string_equal(s, "in \"key " REDACT_MASK "...\" here");
	free(s);
	s = redact_apply(&r, "cut one-two-th\xe2\x80\xa6");
	assert_string_equal(s, "cut " REDACT_MASK "\xe2\x80\xa6");
	free(s);
	s = redact_apply(&r, "too short: sec...");
	assert_string_equal(s, "too short: sec...");
	free(s);
	redact_release(&r);

	/* A set with no secrets leaves text alone; a NULL set too. */
	s = redact_apply(NULL, "x");
	assert_string_equal(s, "x");
	free(s);
}

/* Every encoding of one secret with a tab, quotes, a backslash, '%', '+',
 * '/', a space and non-ASCII letters, each masked whole. */
static void test_forms(void **state)
{
	(void)state;
	struct redact r = {0};
	redact_add(&r, "p/ss\"w\t0rd+50% \\ \xc3\xa9t\xc3\xa9");
	static const char *const forms[] = {
		"p/ss\"w\t0rd+50% \\ \xc3\xa9t\xc3\xa9",
		/* JSON: short escapes, \u escapes of either case, "\/" */
		"p/ss\\\"w\\t0rd+50% \\\\ \xc3\xa9t\xc3\xa9",
		"p\\/ss\\\"w\\u00090rd+50% \\\\ \\u00e9t\\u00E9",
		/* percent-encoding, either case; form encoding */
		"p%2Fss%22w%090rd%2B50%25%20%5C%20%C3%A9t%C3%A9",
		"p%2fss%22w%090rd%2b50%25+%5c+%c3%a9t%c3%a9",
		/* character references */
		"p/ss&quot;w\t0rd+50% \\ &#233;t&#xE9;",
		"p&#x2F;ss&#34;w&#9;0rd+50&#37;&#32;\\ \xc3\xa9t\xc3\xa9",
		/* folded by an excerpt or an error message */
		"p/ss\"w 0rd+50% \\ \xc3\xa9t\xc3\xa9",
		/* base64 and base64url of the value */
		"cC9zcyJ3CTByZCs1MCUgXCDDqXTDqQ==",
		"cC9zcyJ3CTByZCs1MCUgXCDDqXTDqQ",
	};
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		char *text = xasprintf("the server said: %s (code 401)", forms[i]);
		char *s = redact_apply(&r, text);
		char *want = xasprintf("the server said: %s (code 401)", REDACT_MASK);
		if (strcmp(s, want) != 0)
			fail_msg("form %zu: '%s' became '%s'", i, text, s);
		free(want);
		free(s);
		free(text);
	}
	redact_release(&r);
}

/* A password in a URL's userinfo reaches a server as a Basic credential of
 * user:password; neither it nor any part of it may come back. */
static void test_basic_auth(void **state)
{
	(void)state;
	struct redact r = {0};
	redact_add_url(&r, "http://ana:s3cr%40t-pass@127.0.0.1:8080/v1?x=1");
	/* base64("ana:s3cr@t-pass") */
	expect(&r, "401: bad header 'Authorization: Basic YW5hOnMzY3JAdC1wYXNz'",
	       (const char *const[]){"YW5hOnMzY3JAdC1wYXNz", "YW5h", "s3cr@t-pass", NULL},
	       (const char *const[]){"401: bad header 'Authorization: Basic ", "'", NULL});
	expect(&r, "user ana, password s3cr@t-pass, both ana:s3cr@t-pass",
	       (const char *const[]){"s3cr@t", NULL},
	       (const char *const[]){"user ana, password ", NULL});
	redact_release(&r);

	/* A user without a password is a token. */
	redact_add_url(&r, "https://ghp_token1234@example.com/");
	expect(&r, "echo ghp_token1234", (const char *const[]){"ghp_token1234", NULL}, NULL);
	redact_release(&r);
	redact_add_url(&r, "no url at all");
	redact_add_url(&r, "http://example.com/");
	assert_int_equal(r.n, 0);
}

/* b64: base64 (or base64url without padding) of s[0..n). */
static char *b64(const unsigned char *s, size_t n, bool url)
{
	static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *d = url ? safe : std;
	char *out = xmalloc(n / 3 * 4 + 5), *o = out;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		*o++ = d[v >> 18 & 63];
		*o++ = d[v >> 12 & 63];
		*o++ = i + 1 < n ? d[v >> 6 & 63] : url ? '\0' : '=';
		*o++ = i + 2 < n ? d[v & 63] : url ? '\0' : '=';
	}
	*o = '\0';
	return out;
}

/* The value inside a longer encoded text, at each of the three alignments,
 * in base64 and base64url: "Bearer value", "user:value", "xx:value". */
static void test_base64_alignment(void **state)
{
	(void)state;
	struct redact r = {0};
	const char *value = "tok_0123456789";
	redact_add(&r, value);
	static const char *const prefixes[] = {"Bearer ", "user:", "xx:", "a", ""};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		for (int url = 0; url < 2; url++) {
			char *plain = xasprintf("%s%s and more", prefixes[i], value);
			char *enc = b64((const unsigned char *)plain, strlen(plain), url);
			char *text = xasprintf("Authorization: Basic %s.", enc);
			char *s = redact_apply(&r, text);
			/* Only digits that also hold bits of the text around the
			 * value may show: never four in a row of the value's. */
			size_t skip = (strlen(prefixes[i]) + 2) / 3 * 4;
			char *core = xstrndup(enc + skip, 4);
			if (strstr(s, core) || !strstr(s, REDACT_MASK))
				fail_msg("'%s' became '%s'", text, s);
			free(core);
			free(s);
			free(text);
			free(enc);
			free(plain);
		}
	}
	redact_release(&r);
}

/* A span cut out of a longer text masks a secret it cuts through. */
static void test_span(void **state)
{
	(void)state;
	struct redact r = {0};
	redact_add(&r, "xyz-sk-abcdef-123");
	const char *text = "id xyz-sk-abcdef-123 end";
	size_t n;
	char *s = redact_span(&r, text, strlen(text), 7, 16, &n);
	assert_string_equal(s, REDACT_MASK);
	assert_int_equal(n, strlen(REDACT_MASK));
	free(s);
	s = redact_span(&r, text, strlen(text), 0, 5, NULL);
	assert_string_equal(s, "id " REDACT_MASK);
	free(s);
	/* NUL bytes are text like any other. */
	static const char nul[] = "a\0b xyz-sk-abcdef-123";
	s = redact_span(&r, nul, sizeof(nul) - 1, 0, sizeof(nul) - 1, &n);
	assert_int_equal(n, 4 + strlen(REDACT_MASK));
	assert_memory_equal(s, "a\0b " REDACT_MASK, n);
	free(s);
	s = redact_span(NULL, text, strlen(text), 3, 6, NULL);
	assert_string_equal(s, "xyz");
	free(s);
	redact_release(&r);
}

/* A long text is searched in windows: a secret anywhere in it, one across
 * a window's edge included, is found. */
static void test_long_text(void **state)
{
	(void)state;
	struct redact r = {0};
	redact_add(&r, "long-secret-\t-value");
	size_t n = (size_t)300 << 10;
	char *text = xmalloc(n + 1);
	memset(text, 'x', n);
	text[n] = '\0';
	size_t at[] = {0, 65530, 65536 + 100, 131070, 200000, n - 19};
	for (size_t i = 0; i < ARRAY_SIZE(at); i++)
		memcpy(text + at[i], "long-secret-\t-value", 19);
	/* base64 of "Bearer long-secret-\t-value" across another edge */
	memcpy(text + 262140, "QmVhcmVyIGxvbmctc2VjcmV0LQktdmFsdWU=", 36);
	size_t len;
	char *s = redact_span(&r, text, n, 0, n, &len);
	assert_true(len < n);
	assert_null(memmem(s, len, "long-secret", 11));
	assert_null(memmem(s, len, "bmctc2VjcmV0", 12));
	assert_non_null(memmem(s, len, "QmVhcmVy", 8));
	free(s);
	free(text);
	redact_release(&r);
}

/* A deterministic PRNG, so that a failure can be replayed. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* random_secret: 8 to 64 bytes of letters, digits and every byte that an
 * encoding changes: tab, quotes, backslash, '%', '+', '/', space, '&',
 * '<', '=', and two-, three- and four-byte UTF-8. */
static char *random_secret(void)
{
	static const char *const pieces[] = {
		"a", "b", "Z", "k", "q", "0", "7", "-", "_", ".", "\t", "\"", "'", "\\", "%", "+",
		"/", " ", "&", "<", "=", ":", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
	};
	size_t want = 8 + next() % 57;
	struct buf b;
	buf_init(&b, 0);
	while (b.len < want) {
		const char *p = pieces[next() % ARRAY_SIZE(pieces)];
		if (b.len + strlen(p) <= 64)
			buf_addstr(&b, p);
		if (b.len + 1 > 64)
			break;
	}
	return buf_detach(&b, NULL);
}

/* fill: frame with its "%s" replaced by form. */
static char *fill(const char *frame, const char *form)
{
	const char *at = strstr(frame, "%s");
	return xasprintf("%.*s%s%s", (int)(at - frame), frame, form, at + 2);
}

/* Encoders, each as a server might write the secret. */
static char *enc_json(const char *s, unsigned variant)
{
	struct buf b;
	buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = util_utf8_len(p, strlen((const char *)p));
		if (*p == '"' || *p == '\\' || (*p == '/' && (variant & 1)))
			buf_addf(&b, "\\%c", *p);
		else if (*p == '\t')
			buf_addstr(&b, variant & 2 ? "\\u0009" : "\\t");
		else if (*p < 0x20)
			buf_addf(&b, "\\u%04x", *p);
		else if (n > 1 && (variant & 4)) {
			long cp = n == 2 ? (p[0] & 0x1f) << 6 | (p[1] & 0x3f)
			       : n == 3 ? (p[0] & 0x0f) << 12 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f)
					: (long)(p[0] & 0x07) << 18 | (p[1] & 0x3f) << 12 |
						  (p[2] & 0x3f) << 6 | (p[3] & 0x3f);
			unsigned units[2] = {(unsigned)cp, 0};
			if (cp >= 0x10000) {
				units[0] = (unsigned)(0xd800 + ((cp - 0x10000) >> 10));
				units[1] = (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff));
			}
			for (int k = 0; k < 2 && units[k]; k++) {
				if (variant & 8)
					buf_addf(&b, "\\u%04X", units[k]);
				else
					buf_addf(&b, "\\u%04x", units[k]);
			}
		} else {
			buf_add(&b, p, n);
		}
		p += n;
	}
	return buf_detach(&b, NULL);
}

static char *enc_pct(const char *s, unsigned variant)
{
	struct buf b;
	buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("-_.~", *p);
		if (*p == ' ' && (variant & 1))
			buf_addch(&b, '+');
		else if (plain && !(variant & 4))
			buf_addch(&b, (char)*p);
		else
			buf_addf(&b, variant & 2 ? "%%%02x" : "%%%02X", *p);
	}
	return buf_detach(&b, NULL);
}

static char *enc_html(const char *s, unsigned variant)
{
	struct buf b;
	buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (variant & 1 && *p < 0x80)
			buf_addf(&b, variant & 2 ? "&#x%X;" : "&#%d;", *p);
		else if (*p == '&')
			buf_addstr(&b, "&amp;");
		else if (*p == '<')
			buf_addstr(&b, "&lt;");
		else if (*p == '"')
			buf_addstr(&b, variant & 2 ? "&#34;" : "&quot;");
		else if (*p == '\'')
			buf_addstr(&b, variant & 2 ? "&#x27;" : "&#39;");
		else
			buf_addch(&b, (char)*p);
	}
	return buf_detach(&b, NULL);
}

static char *enc_fold(const char *s, unsigned variant)
{
	(void)variant;
	char *out = xstrdup(s);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return out;
}

static char *enc_b64(const char *s, unsigned variant)
{
	static const char *const wrap[] = {"%s", "Bearer %s", "ana:%s", "x%s"};
	char *plain = fill(wrap[variant % 4], s);
	char *out = b64((const unsigned char *)plain, strlen(plain), variant & 4);
	free(plain);
	return out;
}

/* leaks: whether out shows 8 bytes in a row of form[from..to) that are not
 * in frame (the text around the form) nor mostly white space. */
static bool leaks(const char *out, const char *form, size_t from, size_t to, const char *frame)
{
	for (size_t i = from; i + 8 <= to; i++) {
		const char *w = form + i;
		size_t blank = 0;
		for (size_t k = 0; k < 8; k++)
			blank += (unsigned char)w[k] <= ' ';
		if (blank <= 2 && memmem(out, strlen(out), w, 8) && !memmem(frame, strlen(frame), w, 8))
			return true;
	}
	return false;
}

/* check_form: text (frame with form in it) redacted shows nothing of form;
 * base64 digits at the ends of an encoding hold bits of what is around the
 * secret and may show. */
static void check_form(const struct redact *r, const char *frame, const char *form, bool b64,
		       const char *secret, int round)
{
	char *text = fill(frame, form);
	char *bare = fill(frame, "");
	char *s = redact_apply(r, text);
	size_t len = strlen(form);
	if (leaks(s, form, b64 ? 12 : 0, b64 && len > 2 ? len - 2 : len, bare) ||
	    !strstr(s, REDACT_MASK))
		fail_msg("round %d: '%s' (secret '%s') became '%s'", round, text, secret, s);
	free(s);
	free(bare);
	free(text);
}

/* Property: random secrets, each echoed in every form at a random place
 * of a text, whole and cut off at "...": none survives in any form. */
static void test_property(void **state)
{
	(void)state;
	static char *(*const encoders[])(const char *, unsigned) = {
		enc_json, enc_pct, enc_html, enc_fold, enc_b64,
	};
	static const char *const frames[] = {
		"error: %s", "{\"detail\": \"%s\"}", "<title>%s</title>", "x-fp: %s;", "%s",
		"Authorization: Basic %s", "said \"%s...\" then",
	};
	for (int round = 0; round < 300; round++) {
		struct redact r = {0};
		char *secret = random_secret();
		redact_add(&r, secret);
		redact_add(&r, "an-unrelated-secret");
		/* Its first two thirds (at least five bytes), as an excerpt
		 * cut off at "..." quotes it. */
		size_t cut = strlen(secret) * 2 / 3;
		while (cut < 5 || ((unsigned char)secret[cut] & 0xc0) == 0x80)
			cut++;
		char *start = xstrndup(secret, cut);
		for (size_t e = 0; e < ARRAY_SIZE(encoders); e++) {
			for (unsigned variant = 0; variant < 16; variant++) {
				char *form = encoders[e](secret, variant);
				const char *frame = frames[next() % (ARRAY_SIZE(frames) - 1)];
				check_form(&r, frame, form, e == 4, secret, round);
				free(form);
				form = encoders[e](start, variant);
				check_form(&r, frames[ARRAY_SIZE(frames) - 1], form, e == 4, secret,
					   round);
				free(form);
			}
		}
		free(start);
		free(secret);
		redact_release(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_base64_alignment),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_long_text),
		cmocka_unit_test(test_property),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
