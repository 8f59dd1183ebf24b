/* fuzz_redact: masking secrets in arbitrary text, whole and in a span. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char secret[] = "sk-fuzz-0123456789";
	struct redact r = {0};
	redact_add(&r, secret);
	redact_add(&r, "p\tw d%/+\"\\\xc3\xa9");
	redact_add_url(&r, "http://ana:s3cr%09t@127.0.0.1/");
	const char *s = (const char *)data;
	size_t n, from = size ? data[0] % size : 0, to = from + (size - from) / 2;
	char *out = redact_span(&r, s, size, 0, size, &n);
	/* The raw secret survives nowhere. */
	if (memmem(out, n, secret, sizeof(secret) - 1))
		abort();
	free(out);
	free(redact_span(&r, s, size, from, to, NULL));
	redact_release(&r);
	return 0;
}
