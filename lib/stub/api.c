/* stub/api.c: the table of the APIs the stub speaks, and what they share. */
#include "stub/api.h"

#include <string.h>

#define STUB_ARGUMENTS_PIECE 8

/* In the order of stub_api_table[]. */
const char *const stub_api_names[] = {
	"openai-chat",
	"openai-responses",
	"anthropic-messages",
	NULL,
};

const struct stub_api *const stub_api_table[] = {
	&stub_api_openai_chat,
	&stub_api_openai_responses,
	&stub_api_anthropic_messages,
	NULL,
};

const struct stub_api *stub_api_find(const char *name)
{
	for (size_t i = 0; stub_api_table[i]; i++)
		if (strcmp(stub_api_table[i]->name, name) == 0)
			return stub_api_table[i];
	return NULL;
}

const struct stub_api *stub_api_for_path(const char *path)
{
	for (size_t i = 0; stub_api_table[i]; i++)
		if (strcmp(stub_api_table[i]->path, path) == 0)
			return stub_api_table[i];
	return NULL;
}

const char *stub_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *stub_json_list(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsArray(v) ? v : NULL;
}

cJSON *stub_json_copy(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
}

size_t stub_text_piece(const char *s, size_t len, size_t off)
{
	size_t min = len / STUB_MAX_PIECES, i = off;
	do {
		while (i < len && s[i] == ' ')
			i++;
		while (i < len && s[i] != ' ')
			i++;
	} while (i < len && i - off < min);
	return i - off;
}

size_t stub_arguments_piece(const char *s, size_t len, size_t off)
{
	size_t want = len / STUB_MAX_PIECES > STUB_ARGUMENTS_PIECE ? len / STUB_MAX_PIECES
								   : STUB_ARGUMENTS_PIECE;
	size_t n = len - off < want ? len - off : want;
	/* Back off a cut inside a character: its continuation bytes are 10xxxxxx. */
	while (n > 1 && off + n < len && ((unsigned char)s[off + n] & 0xc0) == 0x80)
		n--;
	return n;
}
