/* fuzz_evidence: any line is a log record or a reason, any text an OTLP
 * export or a reason, and whatever they hold makes a case that is added to
 * any YAML file, or a reason; never a crash.  The first byte picks the
 * reader and the promotion. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/evidence.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* promote: rec as a case, added to the YAML file text. */
static void promote(const struct evidence_record *rec, bool bad, const char *file, size_t len)
{
	struct evidence_promote o = {.bad = bad, .source = "fuzz"};
	char *id = evidence_case_id(rec), *err = NULL;
	char *yaml;

	o.id = id;
	yaml = evidence_case_yaml(rec, &o, &err);
	if (yaml) {
		free(evidence_file_add_cases(file, len, "f.yaml", "s", yaml, &err));
		free(yaml);
	}
	free(err);
	free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evidence_record rec, *recs = NULL;
	size_t n = 0;
	char *err = NULL;

	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	bool bad = data[0] & 1;
	if (data[0] & 2) {
		if (evidence_otel_read(text, len, &recs, &n, &err) == 0) {
			for (size_t i = 0; i < n; i++) {
				promote(&recs[i], bad, text, len);
				evidence_record_release(&recs[i]);
			}
			free(recs);
		}
	} else if (evidence_record_read(text, len, NULL, NULL, &rec, &err) == 0) {
		static const char file[] = "strata:\n  s:\n    cases:\n      - id: x\n";
		promote(&rec, bad, file, strlen(file));
		evidence_record_release(&rec);
	}
	free(err);
	return 0;
}
