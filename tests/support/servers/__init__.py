"""Real servers on 127.0.0.x that the test suite starts and stops itself."""
