/* util.h: allocation, bounded buffers, arenas and small helpers.
 *
 * Ownership: x*alloc and xstrdup return memory the caller frees with free().
 * Out-of-memory aborts here, in one place, so no caller checks for NULL.
 * A struct buf owns its data until buf_detach() hands it to the caller.
 * Everything allocated from an arena lives until arena_release().  A
 * struct strmap owns its slots until strmap_release(); its keys live in the
 * arena given to strmap_get() (or are the caller's when none was given).
 */
#ifndef CANARY_UTIL_H
#define CANARY_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: grow an array to nmemb elements, aborting on overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap);

/* A growable byte buffer with a hard maximum (curl's DYNBUF rule).  data is
 * always NUL-terminated once anything was added.  Adding past max fails with
 * -1 and leaves the buffer as it was. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_MAX_DEFAULT ((size_t)64 << 20)

void buf_init(struct buf *b, size_t max);
int buf_add(struct buf *b, const void *p, size_t n);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* buf_detach: hand the data to the caller ("" when empty) and reset b. */
char *buf_detach(struct buf *b, size_t *len);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);

/* A bump allocator for data that lives as long as one document or run. */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
};

void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_release(struct arena *a);

/* A hash map from strings to numbers: to intern repeated strings (each
 * kept once, in an arena) and to find things by name without a scan. */
struct strmap_entry {
	const char *key;
	size_t value;
};

struct strmap {
	struct strmap_entry *slots;
	size_t cap;            /* a power of two, or 0 */
	size_t n;
};

/* strmap_get: the entry of key, added with value 0 when absent (*added
 * true; added may be NULL) with a copy of key in a, or key itself when a is
 * NULL.  Entries move when the map grows: use one before the next get. */
struct strmap_entry *strmap_get(struct strmap *m, struct arena *a, const char *key,
				bool *added);
/* strmap_find: the entry of key, or NULL. */
struct strmap_entry *strmap_find(const struct strmap *m, const char *key);
void strmap_release(struct strmap *m);

/* util_parse_duration: "250ms", "30s", "2m", "1h" (or a bare number of
 * seconds) into milliseconds; -1 when malformed or negative. */
int util_parse_duration(const char *s, long *ms);

/* util_parse_size: "512", "64KiB", "8MiB", "1GiB" (also K, M, G, KB, MB)
 * into bytes; -1 when malformed. */
int util_parse_size(const char *s, size_t *bytes);

/* util_suggest: the candidate closest to word by edit distance, when close
 * enough to be a likely typo; NULL otherwise.  candidates ends with NULL. */
const char *util_suggest(const char *word, const char *const *candidates);

/* util_join: words (NULL-terminated) joined by sep; the caller frees. */
char *util_join(const char *const *words, const char *sep);

/* util_utf8_len: the length of the valid UTF-8 sequence starting at s (n
 * bytes readable, n > 0); 0 when it is truncated, overlong, a surrogate or
 * past U+10FFFF.  A NUL byte is a sequence of 1. */
size_t util_utf8_len(const unsigned char *s, size_t n);

/* util_utf8_cp: the code point of the valid UTF-8 sequence p[0..len), len
 * from 1 to 4 (as util_utf8_len() gives it). */
unsigned long util_utf8_cp(const unsigned char *p, size_t len);

/* util_char_unsafe: the one rule for text that may not reach a terminal or
 * a report as it is: whether the UTF-8 sequence p[0..len) (len as
 * util_utf8_len() gives it, 0 for an invalid byte) is invalid, a C0
 * control, DEL, a C1 control (CSI among them) or a bidirectional control
 * (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), which
 * reorders the text around it.  Each format escapes such a character its
 * own way. */
bool util_char_unsafe(const unsigned char *p, size_t len);

/* util_json_escape: JSON text with each character util_char_unsafe() names
 * that a JSON printer writes as it is (DEL, C1 and bidirectional controls)
 * written as a \u escape instead: the same value, shown safely; the caller
 * frees. */
char *util_json_escape(const char *json);

/* UTIL_NUL_SHOWN: how text shows a NUL byte a reply held (U+2400 SYMBOL FOR
 * NULL), so that nothing after it is lost. */
#define UTIL_NUL_SHOWN "\xe2\x90\x80"

/* util_show_nul: s[0..len) as a C string with each NUL byte shown as
 * UTIL_NUL_SHOWN; the caller frees. */
char *util_show_nul(const char *s, size_t len);

/* util_format_duration: "850 ms", "1.2 s", "2 m 3 s", "1 h 2 m". */
void util_format_duration(long ms, char out[32]);

/* util_hex_digit: the value of a hex digit, or -1. */
int util_hex_digit(char c);

/* util_pct_decode: s[0..len) with %XX escapes decoded (caller frees); NULL
 * when the result would hold a NUL byte, which no path may. */
char *util_pct_decode(const char *s, size_t len);

/* util_str_cmp: qsort() order for an array of C strings. */
int util_str_cmp(const void *a, const void *b);

/* util_glob: fnmatch-style match of '*', '?' and '[...]'. */
bool util_glob(const char *pattern, const char *s);

/* Monotonic and wall clocks in milliseconds. */
double util_now_ms(void);
long long util_wall_ms(void);
/* util_rfc3339: format a wall time in ms as UTC "2026-01-02T03:04:05Z"; any
 * long long fits out (at most "-292275055-05-16T16:47:05Z"). */
void util_rfc3339(long long wall_ms, char out[32]);

/* util_open_regular: open path for reading; NULL and *err when it cannot be
 * opened or is not a regular file (a FIFO, a device or a folder would
 * block or never end), without blocking. */
FILE *util_open_regular(const char *path, char **err);
/* util_read_file: read a whole regular file, at most max bytes; NULL and
 * *err when it cannot be read (see util_open_regular). */
char *util_read_file(const char *path, size_t max, size_t *len, char **err);
/* util_read_stream: all of f, at most max bytes; name is for messages. */
char *util_read_stream(FILE *f, const char *name, size_t max, size_t *len, char **err);

/* util_random: a uniform double in [0,1) from a per-process seeded PRNG. */
double util_random(void);

struct cJSON;

/* util_json_write: j to f as the JSON every command prints: two-space
 * indent, "key": value, empty containers as {} and [], and a final newline. */
void util_json_write(FILE *f, const struct cJSON *j);

#endif
