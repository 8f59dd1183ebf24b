/* fuzz_jsonptr: JSON pointers of any bytes, resolved against a document
 * that has escapes, arrays and nesting, never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jsonptr.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cJSON *doc;
	if (!doc)
		doc = cJSON_Parse("{\"a/b\":[0,{\"m~n\":[1,2,{\"\":true}]}],\"\":{\" \":null},"
				  "\"c%d\":{\"0\":[[[\"deep\"]]]}}");
	char *p = xstrndup((const char *)data, size);
	const cJSON *v = jsonptr_get(doc, p);
	if (v && !jsonptr_valid(p))
		abort(); /* an invalid pointer must never resolve */
	free(p);
	return 0;
}
