/* canary.c: placeholder until written. */
