/* provider_openai.c: placeholder until written. */
