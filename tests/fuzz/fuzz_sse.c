/* fuzz_sse: any bytes parse into events or fail cleanly, and every
 * chunking gives the same events and the same error as the whole input.
 * The first byte picks the event limit and the sizes of the chunks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int record(void *ctx, const struct sse_event *ev, char **err)
{
	struct buf *b = ctx;
	buf_addf(b, "%lu %zu:", ev->index, ev->type_len);
	buf_add(b, ev->type, ev->type_len);
	buf_addf(b, " %zu:", ev->id_len);
	buf_add(b, ev->id, ev->id_len);
	buf_addf(b, " %zu:", ev->data_len);
	buf_add(b, ev->data, ev->data_len);
	return 0;
}

/* Parse s[0..n) in chunks of step bytes (0: whole); the transcript of its
 * events and error. */
static char *parse(const uint8_t *s, size_t n, size_t max, size_t step, size_t *len)
{
	struct buf b;
	struct sse p;
	char *err = NULL;
	int rc = 0;
	buf_init(&b, 0);
	sse_init(&p, max, record, &b);
	for (size_t at = 0; at < n && rc == 0;) {
		size_t k = step && step < n - at ? step : n - at;
		rc = sse_feed(&p, s + at, k, &err);
		at += k;
		step = step ? step % 7 + 1 : 0; /* uneven chunks */
	}
	if (rc == 0)
		rc = sse_finish(&p, &err);
	sse_release(&p);
	buf_addf(&b, "rc %d %s", rc, err ? err : "");
	free(err);
	return buf_detach(&b, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t max = (size_t)1 << (data[0] % 12);      /* 1 B to 2 KiB */
	size_t step = (size_t)(data[0] >> 4) + 1;
	size_t la, lb;
	char *a = parse(data + 1, size - 1, max, 0, &la);
	char *b = parse(data + 1, size - 1, max, step, &lb);
	if (la != lb || memcmp(a, b, la) != 0)
		abort();
	free(a);
	free(b);
	return 0;
}
