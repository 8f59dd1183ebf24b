/* fuzz_template: template rendering of arbitrary strings. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "template.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	cJSON *messages = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hi\"}]");
	struct tmpl_var vars[] = {{"name", "value"}};
	struct redact rd = {0};
	struct tmpl_ctx ctx = {
		.allowed = TMPL_TARGET,
		.input = "hi",
		.messages = messages,
		.case_id = "c1",
		.stratum = "s",
		.vars = vars,
		.nvars = 1,
		.redact = &rd,
	};
	char *err = NULL;
	free(template_render(s, &ctx, &err));
	free(err);
	cJSON_Delete(messages);
	redact_release(&rd);
	free(s);
	return 0;
}
