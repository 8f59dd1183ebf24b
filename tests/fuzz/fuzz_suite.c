/* fuzz_suite: the suite loader (YAML, keys, templates, grader configs) must
 * reject any input with an error, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "suite/suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct suite_options so = {{"http://127.0.0.1:1/", "http://127.0.0.1:2/"}};
	struct suite *s = suite_load_buffer("fuzz.yaml", (const char *)data, size, &so, &err);
	suite_free(s);
	free(err);
	return 0;
}
