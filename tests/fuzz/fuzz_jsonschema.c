/* fuzz_jsonschema: any schema compiles or fails with a message and a
 * pointer, and any instance validates against what compiled, never a crash
 * or a leak.  The input is SCHEMA NUL INSTANCE (split in half when there is
 * no NUL); the parity of its length picks draft-07 and format assertion.
 * No base or remotes folder is given, so no file is ever read.  The step
 * budget is a hundredth of the default, so that an input spending it stays
 * well inside -timeout in a sanitizer build; work the budget does not
 * count would still show as a timeout. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/jsonschema.h"
#include "util.h"

#define FUZZ_ERRS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t split = nul ? (size_t)(nul - data) : size / 2;
	size_t skip = nul ? 1 : 0;
	char *schema_text = xstrndup((const char *)data, split);
	char *instance_text = xstrndup((const char *)data + split + skip, size - split - skip);
	cJSON *schema = cJSON_Parse(schema_text);
	cJSON *instance = cJSON_Parse(instance_text);
	struct jsonschema_options o = {
		.format_assert = size & 1,
		.default_draft = size & 2 ? JSONSCHEMA_DRAFT_7 : JSONSCHEMA_DRAFT_2020,
		.max_steps = JSONSCHEMA_MAX_STEPS / 100,
	};
	char *err = NULL, *ptr = NULL;
	struct jsonschema *s = schema ? jsonschema_compile(schema, &o, &ptr, &err) : NULL;
	if (schema && !s && (!err || !ptr))
		abort();  /* a compile failure always says what and where */
	if (s && instance) {
		struct jsonschema_error errs[FUZZ_ERRS];
		size_t n = 0;
		int rc = jsonschema_validate(s, instance, NULL, errs, FUZZ_ERRS, &n);
		if (n > FUZZ_ERRS || (rc == 1 && n != 0) || (rc != 1 && n == 0))
			abort();  /* an invalid answer always comes with a reason */
		for (size_t i = 0; i < n; i++)
			free(jsonschema_error_format(&errs[i]));
		jsonschema_errors_release(errs, n);
		int quick = jsonschema_validate(s, instance, NULL, NULL, 0, NULL);
		if ((quick == 1) != (rc == 1))
			abort();  /* asking for errors never changes the answer */
	}
	jsonschema_free(s);
	free(err);
	free(ptr);
	cJSON_Delete(schema);
	cJSON_Delete(instance);
	free(schema_text);
	free(instance_text);
	return 0;
}
