/* jsonptr.c: JSON pointers (RFC 6901) over cJSON, resolved without
 * allocating: reference tokens are compared in their escaped form. */
#include "jsonptr.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

bool jsonptr_valid(const char *s)
{
	if (!s)
		return false;
	if (*s == '\0')
		return true;
	if (*s != '/')
		return false;
	for (; *s; s++) {
		if (*s == '~' && s[1] != '0' && s[1] != '1')
			return false;
	}
	return true;
}

/* token_is_key: whether the escaped token tok[0..len) names key. */
static bool token_is_key(const char *tok, size_t len, const char *key)
{
	for (size_t i = 0; i < len; i++, key++) {
		char c = tok[i];
		if (c == '~')
			c = tok[++i] == '0' ? '~' : '/';
		if (*key != c)
			return false;
	}
	return *key == '\0';
}

/* token_index: the array index a token names: "0" or digits without a
 * leading zero; -1 otherwise (including "-", which names no element). */
static int token_index(const char *tok, size_t len, size_t *out)
{
	if (len == 0 || (tok[0] == '0' && len > 1))
		return -1;
	size_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return -1;
		if (v > (SIZE_MAX - 9) / 10)
			return -1;  /* far past any array's end */
		v = v * 10 + (size_t)(tok[i] - '0');
	}
	*out = v;
	return 0;
}

static cJSON *step(const cJSON *node, const char *tok, size_t len)
{
	cJSON *child;
	if (cJSON_IsObject(node)) {
		for (child = node->child; child; child = child->next) {
			if (child->string && token_is_key(tok, len, child->string))
				return child;
		}
		return NULL;
	}
	if (cJSON_IsArray(node)) {
		size_t idx;
		if (token_index(tok, len, &idx) < 0)
			return NULL;
		for (child = node->child; child && idx > 0; child = child->next)
			idx--;
		return child;
	}
	return NULL;
}

cJSON *jsonptr_get(const cJSON *doc, const char *p)
{
	if (!doc || !jsonptr_valid(p))
		return NULL;
	const cJSON *node = doc;
	while (*p) {
		const char *tok = p + 1;
		size_t len = strcspn(tok, "/");
		node = step(node, tok, len);
		if (!node)
			return NULL;
		p = tok + len;
	}
	return (cJSON *)node;
}
