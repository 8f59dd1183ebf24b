/* fuzz_stub_script: stub scripts load or fail cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "stub/stub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct stub_script *s = stub_script_load_buffer("fuzz.yaml", (const char *)data, size, &err);
	stub_script_free(s);
	free(err);
	return 0;
}
