/* providers/providers.c: provider_table[], every API canary speaks.  Adding
 * one is a file in this folder and its line here. */
#include "provider.h"

#include <stddef.h>

extern const struct provider provider_openai_chat;
extern const struct provider provider_openai_responses;
extern const struct provider provider_anthropic_messages;
extern const struct provider provider_http;

const struct provider *const provider_table[] = {
	&provider_openai_chat,
	&provider_openai_responses,
	&provider_anthropic_messages,
	&provider_http,
	NULL,
};
