/* test_transport.c: placeholder. */
int main(void) { return 0; }
