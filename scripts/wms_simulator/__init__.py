"""Local HTTP server that behaves like Oracle WMS Cloud lgfapi, for tests, demo and benchmarks."""
