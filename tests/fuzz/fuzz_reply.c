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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t n = 0;
	while (provider_table[n])
		n++;
	struct target t = {
		.provider = provider_table[data[0] % n],
		.reply_content = "/reply/text",
		.reply_tool_calls = "/trace/tool_calls",
	};
	struct reply r = {
		.status = data[0] & 0x80 ? 500 : 200,
		.raw = xmalloc(size),
		.raw_len = size - 1,
	};
	memcpy(r.raw, data + 1, size - 1); /* may hold NULs: raw_len is the truth */
	r.raw[size - 1] = '\0';
	char *err = NULL;
	provider_parse_reply(&t, &r, &err);
	free(err);
	reply_release(&r);
	return 0;
}
