/* provider_anthropic.c: placeholder until written. */
