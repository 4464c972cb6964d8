"""dancenow's pure core: pose schema, rendering, normalization, video I/O (no training code)."""
