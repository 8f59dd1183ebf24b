/* util.c: allocation, bounded buffers, arenas and small helpers. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "jsonw.h"

static void oom(void)
{
	fputs("canary: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		oom();
	return xrealloc(p, nmemb * size);
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char probe[1];
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(probe, sizeof(probe), fmt, cp);
	va_end(cp);
	if (n < 0)
		oom();
	char *p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : BUF_MAX_DEFAULT;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	int rc = buf_addstr(b, s);
	free(s);
	return rc;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data ? b->data : xstrdup("");
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

#define ARENA_CHUNK ((size_t)16 << 10)

void *arena_alloc(struct arena *a, size_t n)
{
	size_t align = sizeof(max_align_t);
	n = (n + align - 1) / align * align;
	struct arena_chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

/* strmap_hash: 64-bit FNV-1a of s. */
static uint64_t strmap_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

/* strmap_slot: where key is, or the empty slot where it would go. */
static struct strmap_entry *strmap_slot(const struct strmap *m, const char *key)
{
	size_t i = (size_t)strmap_hash(key) & (m->cap - 1);

	while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

struct strmap_entry *strmap_find(const struct strmap *m, const char *key)
{
	if (m->cap == 0)
		return NULL;
	struct strmap_entry *e = strmap_slot(m, key);
	return e->key ? e : NULL;
}

struct strmap_entry *strmap_get(struct strmap *m, struct arena *a, const char *key,
				bool *added)
{
	if (2 * (m->n + 1) > m->cap) {
		struct strmap bigger = {xcalloc(m->cap ? 2 * m->cap : 16, sizeof(*m->slots)),
					m->cap ? 2 * m->cap : 16, m->n};
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key)
				*strmap_slot(&bigger, m->slots[i].key) = m->slots[i];
		free(m->slots);
		*m = bigger;
	}
	struct strmap_entry *e = strmap_slot(m, key);
	if (added)
		*added = !e->key;
	if (!e->key) {
		e->key = a ? arena_strdup(a, key) : key;
		e->value = 0;
		m->n++;
	}
	return e;
}

void strmap_release(struct strmap *m)
{
	free(m->slots);
	*m = (struct strmap){0};
}

int util_parse_duration(const char *s, long *ms)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000},
	};
	if (!s || !*s)
		return -1;
	/* Digits first: strtod would also take "nan", "inf", hex and spaces. */
	if (!((*s >= '0' && *s <= '9') || (*s == '.' && s[1] >= '0' && s[1] <= '9')))
		return -1;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0 ||
	    strspn(s, "0123456789.eE+-") < (size_t)(end - s))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double r = v * units[i].scale;
			if (r > (double)LONG_MAX / 2)
				return -1;
			*ms = (long)(r + 0.5);
			return 0;
		}
	}
	return -1;
}

int util_parse_size(const char *s, size_t *bytes)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = {
		{"", 1},           {"B", 1},
		{"K", 1024.0},     {"KB", 1024.0},     {"KiB", 1024.0},
		{"M", 1048576.0},  {"MB", 1048576.0},  {"MiB", 1048576.0},
		{"G", 1073741824.0}, {"GB", 1073741824.0}, {"GiB", 1073741824.0},
	};
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double r = v * units[i].scale;
			if (r >= (double)SIZE_MAX / 2)
				return -1;
			*bytes = (size_t)r;
			return 0;
		}
	}
	return -1;
}

/* Levenshtein distance, capped: strings longer than 64 are never close. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *util_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	size_t wl = strlen(word);
	for (; *candidates; candidates++) {
		size_t d = edit_distance(word, *candidates);
		if (d < best_d) {
			best_d = d;
			best = *candidates;
		}
	}
	/* A third of the word may be wrong, and at least one edit. */
	size_t limit = wl / 3 > 1 ? wl / 3 : 1;
	return best_d <= limit || (best_d <= 2 && wl >= 4) ? best : NULL;
}

char *util_join(const char *const *words, const char *sep)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; words[i]; i++) {
		if (i)
			buf_addstr(&b, sep);
		buf_addstr(&b, words[i]);
	}
	return buf_detach(&b, NULL);
}

size_t util_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

unsigned long util_utf8_cp(const unsigned char *p, size_t len)
{
	static const unsigned char lead_bits[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	unsigned long cp = p[0] & lead_bits[len];
	for (size_t i = 1; i < len; i++)
		cp = cp << 6 | (p[i] & 0x3fu);
	return cp;
}

bool util_char_unsafe(const unsigned char *p, size_t len)
{
	switch (len) {
	case 1:
		return p[0] < 0x20 || p[0] == 0x7f;
	case 2:
		return (p[0] == 0xc2 && p[1] < 0xa0) || (p[0] == 0xd8 && p[1] == 0x9c);
	case 3:
		return p[0] == 0xe2 && ((p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f ||
							 (p[2] >= 0xaa && p[2] <= 0xae))) ||
					(p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
	case 4:
		return false;
	default:
		return true;
	}
}

char *util_json_escape(const char *json)
{
	const unsigned char *p = (const unsigned char *)json;
	size_t n = strlen(json);
	struct buf b;
	buf_init(&b, SIZE_MAX);
	buf_add(&b, "", 0);
	for (size_t i = 0; i < n;) {
		size_t len = util_utf8_len(p + i, n - i);
		/* C0 controls are the printer's white space or escaped. */
		bool escape = (len > 1 || p[i] == 0x7f) && util_char_unsafe(p + i, len);
		if (!escape) {
			buf_add(&b, p + i, len ? len : 1);
			i += len ? len : 1;
			continue;
		}
		buf_addf(&b, "\\u%04lx", util_utf8_cp(p + i, len));
		i += len;
	}
	return buf_detach(&b, NULL);
}

void util_format_duration(long ms, char out[32])
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		snprintf(out, 32, "%ld ms", ms);
		return;
	}
	long tenths = (ms + 50) / 100;
	if (tenths < 600) {
		snprintf(out, 32, "%ld.%ld s", tenths / 10, tenths % 10);
		return;
	}
	long s = (ms + 500) / 1000;
	if (s < 3600)
		snprintf(out, 32, "%ld m %ld s", s / 60, s % 60);
	else
		snprintf(out, 32, "%ld h %ld m", s / 3600, s % 3600 / 60);
}

char *util_show_nul(const char *s, size_t len)
{
	struct buf b;
	buf_init(&b, SIZE_MAX);
	buf_add(&b, "", 0);
	for (const char *p = s, *end = s + len; p < end;) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		buf_add(&b, p, (size_t)((nul ? nul : end) - p));
		if (nul)
			buf_addstr(&b, UTIL_NUL_SHOWN);
		p = nul ? nul + 1 : end;
	}
	return buf_detach(&b, NULL);
}

int util_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *util_pct_decode(const char *s, size_t len)
{
	char *o = xmalloc(len + 1);
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = util_hex_digit(s[i + 1])) >= 0 &&
		    (lo = util_hex_digit(s[i + 2])) >= 0) {
			if (hi == 0 && lo == 0) {
				free(o);
				return NULL;
			}
			o[j++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			o[j++] = s[i];
		}
	}
	o[j] = '\0';
	return o;
}

int util_str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool util_glob(const char *pattern, const char *s)
{
	return fnmatch(pattern, s, 0) == 0;
}

double util_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

long long util_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_rfc3339(long long wall_ms, char out[32])
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *util_read_stream(FILE *f, const char *name, size_t max, size_t *len, char **err)
{
	char chunk[8192];
	struct buf b;
	size_t n;
	char *out = NULL;

	buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_add(&b, chunk, n) < 0) {
			*err = xasprintf("'%s' is larger than %zu bytes", name, max);
			goto out;
		}
	}
	if (ferror(f)) {
		*err = xasprintf("cannot read '%s': %s", name, strerror(errno));
		goto out;
	}
	out = buf_detach(&b, len);
out:
	buf_release(&b);
	return out;
}

FILE *util_open_regular(const char *path, char **err)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO without a writer must not block. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*err = xasprintf("'%s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		*err = xasprintf("cannot open '%s': %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

char *util_read_file(const char *path, size_t max, size_t *len, char **err)
{
	FILE *f = util_open_regular(path, err);
	if (!f)
		return NULL;
	char *out = util_read_stream(f, path, max, len, err);
	fclose(f);
	return out;
}

/* xorshift64*, seeded once from the clock and pid; jitter needs no more. */
double util_random(void)
{
	static uint64_t state;
	if (!state) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
			((uint64_t)getpid() << 40) ^ 0x9E3779B97F4A7C15ull;
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	uint64_t r = state * 0x2545F4914F6CDD1Dull;
	return (double)(r >> 11) / 9007199254740992.0;
}

void util_json_write(FILE *f, const cJSON *j)
{
	struct jsonw w;

	jsonw_init(&w, f);
	jsonw_tree(&w, NULL, j);
}
