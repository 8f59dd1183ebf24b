/* test_providers.c: placeholder. */
int main(void) { return 0; }
