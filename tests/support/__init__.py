"""Helpers shared by the tests and the benchmarks: servers on 127.0.0.1, a fake Label Studio,
tokens, export generators, planted datasets, videos and disk faults. Nothing here is a test."""
