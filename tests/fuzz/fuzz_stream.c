/* fuzz_stream: any event stream, fed to a stream assembler, either fails
 * with a reason or gives a reply body that is JSON and that the API's parse
 * reads or refuses cleanly; feeding it in uneven chunks gives the same.
 * The first byte picks the API (each one that streams) and the chunking. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "sse.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *ctx, const struct sse_event *ev, char **err)
{
	return provider_stream_event(ctx, ev, (double)ev->index, err);
}

/* assemble: s[0..n) as a stream of api p fed step bytes at a time (0:
 * whole); what it made: the reply body and content, or the reason. */
static char *assemble(const struct provider *p, const uint8_t *s, size_t n, size_t step)
{
	struct provider_stream *st = provider_stream_new(p, NULL, NULL);
	struct reply r = {.status = 200, .ttft_ms = -1};
	struct sse sse;
	char *err = NULL, *out;
	int rc = 0;

	sse_init(&sse, (size_t)1 << 16, on_event, st);
	for (size_t at = 0; at < n && rc == 0;) {
		size_t k = step && step < n - at ? step : n - at;

		rc = sse_feed(&sse, s + at, k, &err);
		at += k;
		step = step ? step % 5 + 1 : 0;
	}
	if (rc == 0)
		rc = sse_finish(&sse, &err);
	if (rc == 0 && (rc = provider_stream_end(st, &r, &err)) == 0) {
		cJSON *again = provider_json_parse(r.raw, r.raw_len, NULL, NULL);

		if (!again)
			abort(); /* the body handed over is always JSON */
		cJSON_Delete(again);
		rc = provider_parse_reply(p, NULL, &r, &err);
	}
	out = rc == 0 ? xasprintf("ok %s|%s|%zu|%g", r.raw, r.content, r.ntool_calls, r.ttft_ms)
		      : xasprintf("error %s", err);
	free(err);
	reply_release(&r);
	sse_release(&sse);
	provider_stream_free(st);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct provider *apis[8];
	size_t napis = 0;
	char *a, *b;

	for (size_t i = 0; provider_table[i] && napis < 8; i++)
		if (provider_can_stream(provider_table[i], NULL))
			apis[napis++] = provider_table[i];
	if (size < 1 || !napis)
		return 0;
	a = assemble(apis[data[0] % napis], data + 1, size - 1, 0);
	b = assemble(apis[data[0] % napis], data + 1, size - 1, (size_t)(data[0] >> 4) + 1);
	if (strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	return 0;
}
