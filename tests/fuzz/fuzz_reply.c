/* fuzz_reply: any reply body, parsed by every provider and graded by the
 * text graders, yields a reply or a reason, never a crash.  The first byte
 * picks the provider and the HTTP status class. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "suite/suite.h"
#include "util.h"

/* The prod target gives api http its options; the others have none. */
static const char suite_text[] =
	"version: 1\n"
	"name: fuzz\n"
	"targets:\n"
	"  eval: {url: 'http://127.0.0.1:1/'}\n"
	"  prod: {url: 'http://127.0.0.1:1/', api: http,\n"
	"         reply: {content: /reply/text, tool_calls: /trace/tool_calls}}\n"
	"strata: {s: {cases: [{id: c, input: hi, expect: [{contains: x}]}]}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct suite *s; /* loaded once, for the life of the process */
	if (size < 1)
		return 0;
	if (!s) {
		char *err = NULL;
		s = suite_load_buffer("fuzz.yaml", suite_text, strlen(suite_text), NULL, &err);
		if (!s)
			abort();
	}
	size_t n = 0;
	while (provider_table[n])
		n++;
	const struct provider *p = provider_table[data[0] % n];
	const struct target *t = &s->targets[SIDE_PROD];
	if (p->priv_size && p != t->provider)
		return 0;
	struct reply r = {
		.status = data[0] & 0x80 ? 500 : 200,
		.raw = xmalloc(size),
		.raw_len = size - 1,
	};
	memcpy(r.raw, data + 1, size - 1); /* may hold NULs: raw_len is the truth */
	r.raw[size - 1] = '\0';
	char *err = NULL;
	provider_parse_reply(p, p->priv_size ? t->priv : NULL, &r, &err);
	free(err);
	reply_release(&r);
	return 0;
}
