/* fuzz_otlp_pairs: OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES
 * of any bytes never crash; what they accept has non-empty keys and values
 * without a line break (they become HTTP headers). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/otlp.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	struct otlp_config c = {0};
	char *err = NULL;
	if (otlp_parse_pairs(text, "OTEL_EXPORTER_OTLP_HEADERS", &c.headers, &c.nheaders, &err) ==
	    0) {
		for (size_t i = 0; i < c.nheaders; i++)
			if (!*c.headers[i].key || strpbrk(c.headers[i].value, "\r\n"))
				abort();
	} else if (!err) {
		abort();
	}
	free(err);
	otlp_config_release(&c);
	free(text);
	return 0;
}
