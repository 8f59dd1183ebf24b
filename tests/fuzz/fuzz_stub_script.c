/* fuzz_stub_script: stub scripts load or fail cleanly, and the rules of one
 * that loads match conversations of every API (turns, steps, tool
 * results) without a fault. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stub/api.h"
#include "stub/conversation.h"
#include "stub/script.h"
#include "stub/stub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A two-turn conversation with a tool step, in each API's form (in the
 * order of stub_api_table[]). */
static const char *const conversations[] = {
	"{\"messages\": [{\"role\": \"user\", \"content\": \"book a meeting\"},"
	" {\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"c1\", \"function\":"
	" {\"name\": \"check_availability\"}}]},"
	" {\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"{\\\"free\\\": true}\"}]}",
	"{\"input\": [{\"role\": \"user\", \"content\": \"book a meeting\"},"
	" {\"type\": \"function_call\", \"call_id\": \"c1\", \"name\": \"check_availability\"},"
	" {\"type\": \"function_call_output\", \"call_id\": \"c1\", \"output\": \"free\"},"
	" {\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"thanks\"}]}]}",
	"{\"messages\": [{\"role\": \"user\", \"content\": \"book a meeting\"},"
	" {\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", \"id\": \"c1\","
	" \"name\": \"check_availability\", \"input\": {}}]},"
	" {\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": \"c1\","
	" \"content\": [{\"type\": \"text\", \"text\": \"free\"}]}]}]}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct stub_script *s = stub_script_load_buffer("fuzz.yaml", (const char *)data, size, &err);
	for (size_t i = 0; s && stub_api_table[i]; i++) {
		cJSON *j = cJSON_Parse(conversations[i]);
		struct stub_conversation c;
		stub_conversation_init(&c);
		stub_conversation_end(&c, stub_api_table[i]->read(j, &c), conversations[i],
				      strlen(conversations[i]));
		for (size_t r = 0; r < s->nrules; r++)
			stub_rule_matches(&s->rules[r], &c);
		stub_conversation_release(&c);
		cJSON_Delete(j);
	}
	stub_script_free(s);
	free(err);
	return 0;
}
