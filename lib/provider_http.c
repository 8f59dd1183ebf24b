/* provider_http.c: placeholder until written. */
