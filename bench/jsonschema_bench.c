/* jsonschema_bench: how fast lib/jsonschema validates.
 *
 *   jsonschema_bench [ROUNDS [CALLS]]
 *
 * Validates a ~1 MiB reply (an array of event objects) against a schema
 * using about forty keywords ROUNDS times (default 50) and prints MiB/s and
 * ms per validation; then validates a typical tool-call argument object
 * CALLS times (default 1,000,000) and prints validations per second; last,
 * it times the verdict on an array of 100,000 wrong items, and its first
 * three errors.  It prints figures and asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "schema/jsonschema.h"
#include "util.h"

static const char reply_schema[] =
	"{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
	" \"type\": \"array\", \"minItems\": 1, \"maxItems\": 100000,"
	" \"items\": {\"$ref\": \"#/$defs/event\"},"
	" \"contains\": {\"properties\": {\"status\": {\"const\": \"confirmed\"}}},"
	" \"$defs\": {"
	"  \"email\": {\"type\": \"string\", \"format\": \"email\", \"maxLength\": 254},"
	"  \"event\": {\"type\": \"object\","
	"   \"required\": [\"id\", \"title\", \"start\", \"minutes\", \"attendees\", \"status\"],"
	"   \"properties\": {"
	"    \"id\": {\"type\": \"integer\", \"minimum\": 0, \"exclusiveMaximum\": 1e12},"
	"    \"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200,"
	"               \"pattern\": \"^[A-Za-z][A-Za-z0-9 -]*$\"},"
	"    \"start\": {\"type\": \"string\", \"format\": \"date-time\"},"
	"    \"minutes\": {\"type\": \"integer\", \"multipleOf\": 5, \"minimum\": 5,"
	"                 \"maximum\": 480},"
	"    \"attendees\": {\"type\": \"array\", \"minItems\": 1, \"uniqueItems\": true,"
	"                   \"items\": {\"$ref\": \"#/$defs/email\"}},"
	"    \"status\": {\"enum\": [\"tentative\", \"confirmed\", \"cancelled\"]},"
	"    \"room\": {\"anyOf\": [{\"type\": \"null\"},"
	"                          {\"type\": \"string\", \"pattern\": \"^R[0-9]{3}$\"}]},"
	"    \"priority\": {\"oneOf\": [{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3},"
	"                              {\"const\": \"urgent\"}]},"
	"    \"location\": {\"type\": \"object\", \"required\": [\"city\"],"
	"                  \"properties\": {\"city\": {\"type\": \"string\"},"
	"                                 \"zip\": {\"type\": \"string\", \"pattern\": \"^[0-9]{5}$\"}},"
	"                  \"additionalProperties\": false},"
	"    \"score\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1},"
	"    \"notes\": {\"type\": [\"string\", \"null\"], \"maxLength\": 2000},"
	"    \"labels\": {\"type\": \"object\", \"maxProperties\": 10,"
	"                \"propertyNames\": {\"pattern\": \"^[a-z_]+$\"},"
	"                \"additionalProperties\": {\"type\": \"string\"}}},"
	"   \"patternProperties\": {\"^x-\": true},"
	"   \"dependentRequired\": {\"room\": [\"location\"]},"
	"   \"not\": {\"required\": [\"deleted\"]},"
	"   \"if\": {\"properties\": {\"status\": {\"const\": \"cancelled\"}}},"
	"   \"then\": {\"required\": [\"notes\"]},"
	"   \"unevaluatedProperties\": false}}}";

static const char call_schema[] =
	"{\"type\": \"object\", \"additionalProperties\": false,"
	" \"required\": [\"attendee_emails\", \"start\", \"duration_minutes\"],"
	" \"properties\": {"
	"  \"title\": {\"type\": \"string\", \"maxLength\": 200},"
	"  \"attendee_emails\": {\"type\": \"array\", \"minItems\": 1,"
	"                       \"items\": {\"type\": \"string\", \"format\": \"email\"}},"
	"  \"start\": {\"type\": \"string\", \"format\": \"date-time\"},"
	"  \"duration_minutes\": {\"type\": \"integer\", \"enum\": [15, 30, 45, 60]}}}";

static const char call_args[] =
	"{\"title\": \"Sync\", \"attendee_emails\": [\"ana@example.com\"],"
	" \"start\": \"2026-01-02T10:00:00Z\", \"duration_minutes\": 30}";

/* reply: an array of events, about size bytes of JSON. */
static char *reply(size_t size)
{
	static const char *const cities[] = {"Lisbon", "Porto", "Faro"};
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addch(&b, '[');
	for (int i = 0; b.len < size; i++) {
		buf_addf(&b,
			 "%s{\"id\": %d, \"title\": \"Planning %d\", \"start\": \"2026-01-%02dT%02d:30:00Z\","
			 " \"minutes\": %d, \"attendees\": [\"ana%d@example.com\", \"bob@example.org\"],"
			 " \"status\": \"%s\", \"room\": %s, \"priority\": %d,"
			 " \"location\": {\"city\": \"%s\", \"zip\": \"%05d\"}, \"score\": 0.%d,"
			 " \"notes\": %s, \"labels\": {\"team\": \"core\", \"kind\": \"sync\"},"
			 " \"x-trace\": \"t%d\"}",
			 i ? "," : "", i, i, i % 28 + 1, i % 24, (i % 12 + 1) * 5, i,
			 i % 3 == 0 ? "confirmed" : i % 3 == 1 ? "tentative" : "cancelled",
			 i % 2 ? "\"R101\"" : "null", i % 3 + 1, cities[i % 3], i % 100000, i % 10,
			 i % 3 == 2 ? "\"moved\"" : "null", i);
	}
	buf_addch(&b, ']');
	return buf_detach(&b, NULL);
}

static struct jsonschema *compile(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	struct jsonschema_options o = {.format_assert = true};
	char *err = NULL, *ptr = NULL;
	struct jsonschema *s = jsonschema_compile(j, &o, &ptr, &err);
	if (!s) {
		fprintf(stderr, "jsonschema_bench: %s (at %s)\n", err, ptr);
		exit(1);
	}
	cJSON_Delete(j);
	return s;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 50;
	long calls = argc > 2 ? atol(argv[2]) : 1000000;
	if (rounds < 1 || calls < 1) {
		fprintf(stderr, "usage: jsonschema_bench [ROUNDS [CALLS]]\n");
		return 2;
	}

	double t0 = util_now_ms();
	struct jsonschema *s = compile(reply_schema);
	double compile_ms = util_now_ms() - t0;
	char *text = reply((size_t)1 << 20);
	size_t len = strlen(text);
	cJSON *v = cJSON_Parse(text);
	int items = cJSON_GetArraySize(v);
	int rc = 0;
	t0 = util_now_ms();
	for (long i = 0; i < rounds; i++)
		rc = jsonschema_validate(s, v, NULL, NULL, 0, NULL);
	double ms = (util_now_ms() - t0) / (double)rounds;
	printf("reply: %.2f MiB, %d events, result %d (1 = valid)\n", (double)len / 1048576.0,
	       items, rc);
	printf("reply: compile %.3f ms; %.2f ms per validation, %.1f MiB/s (%ld rounds)\n",
	       compile_ms, ms, (double)len / 1048576.0 / (ms / 1000.0), rounds);

	/* The same reply with one bad item at the end, errors collected. */
	cJSON *bad = cJSON_GetArrayItem(v, items - 1);
	cJSON_ReplaceItemInObject(bad, "minutes", cJSON_CreateNumber(7));
	struct jsonschema_error errs[8];
	size_t n = 0;
	t0 = util_now_ms();
	rc = jsonschema_validate(s, v, NULL, errs, 8, &n);
	ms = util_now_ms() - t0;
	char *first = n ? jsonschema_error_format(&errs[0]) : xstrdup("-");
	printf("reply with an error: %.2f ms, result %d, %zu errors, first: %s\n", ms, rc, n, first);
	free(first);
	jsonschema_errors_release(errs, n);
	cJSON_Delete(v);
	free(text);
	jsonschema_free(s);

	s = compile(call_schema);
	v = cJSON_Parse(call_args);
	t0 = util_now_ms();
	for (long i = 0; i < calls; i++)
		rc = jsonschema_validate(s, v, NULL, NULL, 0, NULL);
	ms = util_now_ms() - t0;
	printf("tool call: %ld validations in %.0f ms, %.0f validations/s, result %d\n", calls, ms,
	       (double)calls / (ms / 1000.0), rc);
	cJSON_Delete(v);
	jsonschema_free(s);

	s = compile("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}}");
	v = cJSON_CreateArray();
	for (int i = 0; i < 100000; i++)
		cJSON_AddItemToArray(v, cJSON_CreateString("bad"));
	t0 = util_now_ms();
	rc = jsonschema_validate(s, v, NULL, NULL, 0, NULL);
	ms = util_now_ms() - t0;
	t0 = util_now_ms();
	jsonschema_validate(s, v, NULL, errs, 3, &n);
	double three = util_now_ms() - t0;
	printf("100000 wrong items: %.3f ms to the verdict (result %d), %.3f ms for 3 errors\n", ms,
	       rc, three);
	jsonschema_errors_release(errs, n);
	cJSON_Delete(v);
	jsonschema_free(s);
	return 0;
}
